"""Analyses over many runs of a scenario: sensitivity (:mod:`.sensitivity`), and the
design solver and calibration (issue 11). This layer sits above the sweep runner and the
experiments (DESIGN §3)."""
