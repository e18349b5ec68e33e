"""Analyses built on many runs: the design solver (:mod:`.design`)."""
