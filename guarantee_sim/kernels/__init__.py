"""Numba kernels: arrays in, arrays out, no classes, no I/O (see layout.py for the shapes)."""
