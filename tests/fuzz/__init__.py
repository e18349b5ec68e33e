"""The fuzz corpus of bad inputs (issue 13): generate.py builds it, run_corpus.py runs it."""
