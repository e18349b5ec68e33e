"""guarantee_sim's benchmark suite, for airspeed velocity (asv): see benchmarks/README.md.

``bench_*.py`` hold the benchmarks (classes with ``time_*``, ``peakmem_*`` and ``track_*``
methods); ``workloads.py``, ``numpy_reference.py`` and ``generator.py`` what they run;
``ratios.py`` prints the hot loop's ratio table from one run of some of them.
"""
