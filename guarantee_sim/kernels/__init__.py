"""Numba kernels: arrays in, arrays out, no classes, no I/O (see layout.py for the bundles).

* ``layout``: the bundles of arrays the kernels take (fields, shapes, units) and the
  indices of the output variables;
* ``factors``: systematic factors by year and the default thresholds they imply;
* ``origination``: a month's new loans, each record's whole life drawn when it starts;
* ``waterfall``: a month's defaults shared among the parties, and when cash moves;
* ``portfolio``: one path as its monthly steps, and the block driver over paths.

The kernels import nothing of the package but :mod:`guarantee_sim.philox`: the
counter-based generator and :func:`~guarantee_sim.philox.jit`, the decorator that compiles
them with an on-disk cache keyed by a hash of their sources (see
:mod:`guarantee_sim._numba_cache`). Importing them changes no process-wide state.
"""
