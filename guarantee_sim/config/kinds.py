"""What a YAML file's top-level mapping is: a scenario or an experiment.

Apart from :mod:`guarantee_sim.experiments` (whose models take 20-40 ms to import), so that
``run`` can refuse an experiment file without importing them.
"""

from __future__ import annotations

#: top-level keys only a scenario has; a file with ``base`` and none of them is an experiment
SCENARIO_KEYS = frozenset({"horizon", "segments", "parties", "schemes"})


def is_experiment(data: dict) -> bool:
    """Whether a file's top-level mapping is an experiment (a ``base`` and no scenario keys).

    >>> is_experiment({"base": "s.yaml", "variants": {}}), is_experiment({"horizon": {}})
    (True, False)
    """
    return "base" in data and not SCENARIO_KEYS & set(data)
