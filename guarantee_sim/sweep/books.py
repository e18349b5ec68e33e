"""A folder of the institution processes' books, shared by a sweep's workers.

``simulate(..., books=BookCache(folder))`` looks the processes' results up by
:func:`~guarantee_sim.processes.books_key` (a hash of everything they read) and runs them
only when the folder has none: designs that change only what the processes do not read
(a pool's size, caps, capital, subsidies paid to the guarantor) reuse one run's books.

Each entry is one pickle file, ``<key>.pkl``, written to a temporary name in the folder
and renamed into place (atomic on a POSIX filesystem), so a reader never sees half a file
and two workers writing the same key at once each write a whole one. On a cluster the
folder must be on a filesystem every worker sees (NFS, a shared volume); a folder only one
machine sees still gives right numbers, but the other machines run the processes again.
The cache is never pruned: delete the folder to free its space (an entry is a few MB for
the default scenario's 4 replicas at record weight 20, more at finer weights).
``guarantee-sim run --books`` uses it too, so a run that changes only what the processes
do not read reuses an earlier run's books.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..processes import ProcessResults

#: the suffix of a finished entry
SUFFIX = ".pkl"


def user_books_folder() -> Path:
    """The default folder of the books: ``$XDG_CACHE_HOME/guarantee_sim/books`` (or
    ``~/.cache/guarantee_sim/books``)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "guarantee_sim" / "books"


class BookCache:
    """``cache(key, compute)``: the processes' results for ``key``, computed once per folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.hits = 0  # counted in this process, for tests and the sweep's report
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def __call__(self, key: str, compute: Callable[[], ProcessResults]) -> ProcessResults:
        path = self.path(key)
        if path.is_file():
            with path.open("rb") as f:
                found = pickle.load(f)
            self.hits += 1
            return found
        self.misses += 1
        results = compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return results
