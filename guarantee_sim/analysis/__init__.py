"""Analyses built on many simulations of a scenario: calibration, sensitivity, design.

Each analysis is its own module (``calibration``, ...); nothing is imported here, so
importing one does not load the others' dependencies.
"""
