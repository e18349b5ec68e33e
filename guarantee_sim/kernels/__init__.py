"""Numba kernels: arrays in, arrays out, no classes, no I/O (see layout.py for the shapes).

Numba's on-disk cache notices a change to a function's own file but not to the functions
it calls in other files, so an edited ``philox.py`` or ``waterfall.py`` would leave a stale
``simulate_block`` in the cache. Unless ``NUMBA_CACHE_DIR`` is set, the cache lives in a
folder named after a hash of every jitted source file, so any edit starts a fresh cache.
"""

import hashlib
import os
from pathlib import Path

import numba

_PACKAGE = Path(__file__).resolve().parents[1]
_JITTED_SOURCES = sorted(_PACKAGE.glob("kernels/*.py")) + [
    _PACKAGE / "philox.py",
    _PACKAGE / "book.py",
    _PACKAGE / "processes" / "draws.py",
]

if not os.environ.get("NUMBA_CACHE_DIR"):
    _digest = hashlib.sha256(b"".join(p.read_bytes() for p in _JITTED_SOURCES)).hexdigest()
    numba.config.CACHE_DIR = str(_PACKAGE / "__pycache__" / f"numba-{_digest[:16]}")
