"""The package version, in a module of its own so that any layer can read it without a cycle.

It is the one place the version is written: ``pyproject.toml`` reads it from here
(``[tool.setuptools.dynamic]``), so the installed metadata says the same
(``tests/test_startup.py``).
"""

__version__ = "0.1.0"
