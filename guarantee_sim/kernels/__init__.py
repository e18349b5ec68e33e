"""Numba kernels: arrays in, arrays out, no classes, no I/O (see layout.py for the shapes).

The kernels import nothing of the package but :mod:`guarantee_sim.philox`: the
counter-based generator and :func:`~guarantee_sim.philox.jit`, the decorator that compiles
them with an on-disk cache keyed by a hash of their sources (see
:mod:`guarantee_sim._numba_cache`). Importing them changes no process-wide state.
"""
