"""Orchestration: scenario and loan book to kernel arrays, path blocks, results Dataset."""

from ..book import LoanBook
from .analytic import basel_sme_correlation, vasicek_loss_quantile
from .inputs import BooksInMemory, build_inputs
from .simulate import books_key_of, simulate
from .volumes import build_volume_book

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
