"""Orchestration: scenario and loan book to kernel arrays, path blocks, results Dataset.

The names below are imported on first use (PEP 562), so that importing a light part of
the engine (``engine.early``, which starts the institution processes) does not import the
kernels' and the results' modules (xarray, pandas) with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import LazyNames

#: public name -> the module of this package that defines it
_EXPORTS = {
    "BooksInMemory": "inputs",
    "LoanBook": "volumes",
    "basel_sme_correlation": "analytic",
    "books_key_of": "simulation",
    "build_inputs": "inputs",
    "build_volume_book": "volumes",
    "simulate": "simulation",
    "vasicek_loss_quantile": "analytic",
}

__all__ = [
    "BooksInMemory",
    "LoanBook",
    "basel_sme_correlation",
    "books_key_of",
    "build_inputs",
    "build_volume_book",
    "simulate",
    "vasicek_loss_quantile",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ..book import LoanBook
    from .analytic import basel_sme_correlation, vasicek_loss_quantile
    from .inputs import BooksInMemory, build_inputs
    from .simulation import books_key_of, simulate
    from .volumes import build_volume_book


_LAZY = LazyNames(__name__, globals(), _EXPORTS)


def __getattr__(name: str):
    return _LAZY.attribute(name)


def __dir__() -> list[str]:
    return _LAZY.names()
