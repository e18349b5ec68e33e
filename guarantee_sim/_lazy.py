"""A package's public names imported on first use (PEP 562).

The package root and :mod:`guarantee_sim.engine` keep their imports light this way:
``load_scenario`` or ``engine.early`` must not pull in Numba, SciPy or xarray. Each defines
``__getattr__`` and ``__dir__`` as one-line calls to a :class:`LazyNames`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any


class LazyNames:
    """The names ``exports`` maps to the submodule defining each (relative to ``package``),
    and the ``subpackages`` reachable as attributes, imported when first looked up."""

    def __init__(
        self,
        package: str,
        namespace: MutableMapping[str, Any],
        exports: Mapping[str, str],
        subpackages: Iterable[str] = (),
    ):
        self.package = package
        self.namespace = namespace
        self.exports = exports
        self.subpackages = tuple(subpackages)

    def attribute(self, name: str) -> Any:
        """The module's ``__getattr__``: import what defines ``name`` and return it."""
        if name in self.exports:
            module = importlib.import_module(f".{self.exports[name]}", self.package)
            value = getattr(module, name)
            self.namespace[name] = value  # the next access is a plain attribute lookup
            return value
        if name in self.subpackages:
            return importlib.import_module(f".{name}", self.package)
        raise AttributeError(f"module {self.package!r} has no attribute {name!r}")

    def names(self) -> list[str]:
        """The module's ``__dir__``: what is loaded, what is exported, the subpackages."""
        exported = self.namespace.get("__all__", ())
        return sorted(set(self.namespace) | set(exported) | set(self.subpackages))
