"""Progress of a run, in phases a person can follow (issue 12, section 2).

A run spends its time in a few phases: the institution processes (one step per book
replica), compiling the kernels (the first run on a machine only), the Monte Carlo paths
(one step per block), and writing. :func:`~guarantee_sim.engine.simulate` reports each
phase to a :class:`Progress`: the command line shows it with Rich, Jupyter with tqdm's
notebook widget (``simulate(..., progress=True)``), and ``progress=None`` shows nothing.
"""

from __future__ import annotations

from typing import Protocol

#: phase names, shared by every display so a test can follow them
INSTITUTIONS = "institutions"
COMPILING = "compiling kernels (first run only)"
PATHS = "paths"
WRITING = "writing"


class Progress(Protocol):
    """Where a run says how far it is: a phase starts, then advances towards its total."""

    def phase(self, description: str, total: int | None = None) -> None:
        """A new phase; ``total`` steps (None: a phase that cannot be counted)."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current phase are done."""


class Silent:
    """Shows nothing (``progress=None``)."""

    def phase(self, description: str, total: int | None = None) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass


class Tqdm:
    """One tqdm bar per phase: a widget in Jupyter, a text bar on a terminal (tqdm.auto)."""

    def __init__(self, leave: bool = True):
        self._bar = None
        self._leave = leave

    def phase(self, description: str, total: int | None = None) -> None:
        from tqdm.auto import tqdm

        self.close()
        self._bar = tqdm(total=total, desc=description, leave=self._leave)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Prefixed:
    """Every phase of ``inner`` named with ``prefix`` first: one design of a comparison."""

    def __init__(self, inner: Progress, prefix: str):
        self._inner = inner
        self._prefix = prefix

    def phase(self, description: str, total: int | None = None) -> None:
        self._inner.phase(f"{self._prefix}{description}", total)

    def advance(self, steps: int = 1) -> None:
        self._inner.advance(steps)


def as_progress(progress: Progress | bool | None) -> Progress:
    """``None``/``False``: silent; ``True``: tqdm (Jupyter or terminal; the caller closes
    it when done: :func:`finished`); else as given (its owner closes it)."""
    if progress is None or progress is False:
        return Silent()
    if progress is True:
        return Tqdm()
    return progress


def finished(progress: Progress | bool | None, shown: Progress) -> None:
    """Close ``shown`` if it was made here for ``progress=True`` (a given one is its
    owner's to close)."""
    if progress is True and isinstance(shown, Tqdm):
        shown.close()


def needs_compiling(dispatcher) -> bool:
    """Whether the first call of a jitted function will compile it: it has no compiled
    signature in this process and no entry in Numba's on-disk cache (``cache=True``)."""
    if getattr(dispatcher, "signatures", None) is None:
        return False  # NUMBA_DISABLE_JIT: a plain Python function
    if dispatcher.signatures:
        return False
    cache = getattr(dispatcher, "_cache", None)
    index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
    if index is None:
        return True
    import os

    return not os.path.exists(index)
