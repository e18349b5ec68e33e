"""Analyses over many runs of a scenario: sensitivity (:mod:`.sensitivity`), the design
solver (:mod:`.design`) and calibration (:mod:`.calibration`) (issue 11). This layer sits
above the sweep runner and the experiments (DESIGN §3)."""
