"""Where Numba caches guarantee_sim's compiled functions, and the decorator that uses it.

Why a key of our own
--------------------
Numba's on-disk cache notices a change to a function's own file, but not to the functions
it calls in other files or to module constants it reads, so an edited ``philox.py`` or
``waterfall.py`` would leave a stale ``simulate_block`` in the cache and give old numbers
with new code. Our cache therefore lives in a folder named after a hash of every source
file jitted code reads (:data:`JITTED_SOURCES`): any edit starts a fresh cache.

Why per function, not ``numba.config.CACHE_DIR``
------------------------------------------------
Numba reads ``config.CACHE_DIR`` when a function is decorated, for every library in the
process. Setting it (as this package once did at import) moved every other library's
cache into our folder. Instead, :func:`jit` compiles without Numba's cache and gives the
dispatcher a cache object of its own whose only locator points into our folder: nothing
of Numba's global configuration changes, and other libraries keep their caches. (This uses
``numba.core.caching``'s locator classes, which are not a public API; they have been
stable since Numba 0.5x. A user's ``NUMBA_CACHE_LOCATOR_CLASSES`` takes precedence.)

:func:`configure_numba_cache` decides the folder once per process:

1. it respects a user's ``NUMBA_CACHE_DIR`` (or ``numba.config.CACHE_DIR`` set in code): the
   cache goes to ``$NUMBA_CACHE_DIR/guarantee_sim/numba-<hash>``, still keyed by our hash;
2. otherwise the first writable of ``guarantee_sim/__pycache__/numba-<hash>`` and
   ``$XDG_CACHE_HOME`` (default ``~/.cache``) ``/guarantee_sim/numba-<hash>``;
3. if no location is writable it warns once, in one line, and the kernels run uncached
   (compiled again in each process);
4. it runs before any jitted function is made: the command line calls it first (so a
   warning comes before any work); otherwise the first :func:`jit` decoration calls it, which
   is how the benchmarks, notebooks and Dask workers (which import the kernels) get it.
   Called again, it returns the folder already chosen (the benchmarks print it).

What notebook users get: ``gs.simulate`` imports the kernels, whose decorators call
:func:`configure_numba_cache`, so a notebook uses the same cache as the command line and its
other Numba libraries are untouched. The stale-cache caveat: the hash covers only
:data:`JITTED_SOURCES`, and a running Python process (a Jupyter kernel) keeps the code it
compiled, so after editing a kernel restart the kernel; ``importlib.reload`` of one module
does not recompile its callers. Old ``numba-<hash>`` folders are not removed; delete them.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import warnings
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
#: every file whose code or module constants jitted functions read, relative to the package
JITTED_SOURCES = ("philox.py", "book.py", "kernels/*.py", "processes/draws.py")

_UNSET = object()
# decided once per process: "location" (a Path, or None for no cache), the cache and
# dispatcher classes
_state: dict = {"location": _UNSET, "cache_class": None, "dispatcher_class": None}


class NumbaCacheWarning(UserWarning):
    """No writable location for the compiled kernels: they are compiled in every process."""


def source_hash() -> str:
    """Hash of :data:`JITTED_SOURCES` (16 hex digits): the name of the cache folder."""
    files = sorted({p for pattern in JITTED_SOURCES for p in PACKAGE.glob(pattern)})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _user_cache_dir() -> str:
    if "numba" in sys.modules:  # numba.config.CACHE_DIR mirrors NUMBA_CACHE_DIR, or was set
        return str(sys.modules["numba"].config.CACHE_DIR or "")
    return os.environ.get("NUMBA_CACHE_DIR", "")


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def configure_numba_cache(cache_dir: str | os.PathLike | None = None) -> Path | None:
    """Choose, once per process, where guarantee_sim's kernels are cached; return it.

    ``cache_dir`` (e.g. a shared folder for Dask workers) takes precedence over
    ``NUMBA_CACHE_DIR`` and the defaults; the folder ``numba-<hash>`` is made inside it.
    Returns None when there is no writable location (a one-line
    :class:`NumbaCacheWarning` says so) and the kernels run uncached. Later calls return
    the location chosen first; asking for a different ``cache_dir`` then is an error.

    >>> from guarantee_sim import configure_numba_cache
    >>> location = configure_numba_cache()  # e.g. .../guarantee_sim/__pycache__/numba-1a2b3c4d
    >>> location is None or location.name.startswith("numba-")
    True
    """
    chosen = _state["location"]
    if chosen is not _UNSET:
        if cache_dir is not None and chosen != Path(cache_dir) / f"numba-{source_hash()}":
            raise RuntimeError(
                f"the Numba cache is already {chosen}; call configure_numba_cache("
                "cache_dir) before anything of guarantee_sim is compiled"
            )
        return chosen
    folder = f"numba-{source_hash()}"
    if cache_dir is not None:
        candidates = [Path(cache_dir) / folder]
    elif _user_cache_dir():
        candidates = [Path(_user_cache_dir()) / "guarantee_sim" / folder]
    else:
        user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        candidates = [PACKAGE / "__pycache__" / folder, user / "guarantee_sim" / folder]
    chosen = _state["location"] = next((c for c in candidates if _writable(c)), None)
    if chosen is None:
        tried = ", ".join(str(c) for c in candidates)
        warnings.warn(
            f"no writable Numba cache location ({tried}): guarantee_sim's kernels are "
            "compiled in every process",
            NumbaCacheWarning,
            stacklevel=2,
        )
    return chosen


def jit(signature=None, *, per_constant=False, **flags):
    """``numba.njit(**flags)`` with the cache of :func:`configure_numba_cache`.

    The one decorator of every jitted function in the package (JIT flags in one place).
    Each function compiles one specialisation per combination of argument types, never
    one per constant value: a constant argument (``PURPOSE_FACTOR``, a literal ``0``) is
    typed as its plain type (``int64``), as a variable would be, where Numba would otherwise
    compile a version for each value (``philox4x32_10`` was compiled ten times on a first
    run). ``signature`` (Numba's argument types as a string, e.g. ``"(uint64, float64[:])"``)
    fixes the one specialisation: it is compiled when the function is decorated and every
    call converts its arguments to it. ``per_constant=True`` keeps Numba's version per
    constant value, where the constants folded into a hot loop are worth a compilation.
    With ``NUMBA_DISABLE_JIT=1`` it returns the plain Python function.
    """
    numba = _imported_numba()

    def decorate(func):
        if numba.config.DISABLE_JIT:
            return func
        location = configure_numba_cache()
        cls = numba.core.registry.CPUDispatcher if per_constant else _dispatcher_class()
        dispatcher = cls(py_func=func, locals={}, targetoptions={"nopython": True, **flags})
        if location is not None:
            try:
                dispatcher._cache = _cache_for(func)
            except RuntimeError as err:  # the folder vanished or became read-only
                warnings.warn(f"{err}; compiling without a cache", NumbaCacheWarning, 2)
        if signature is not None:
            from numba.core import typeinfer

            with typeinfer.register_dispatcher(dispatcher):  # as numba.njit(signature) does
                dispatcher.compile(signature)
            dispatcher.disable_compile()
        return dispatcher

    return decorate


def _imported_numba():
    """``import numba``, without the ``coverage`` import it does for nothing.

    Numba imports ``coverage`` (85 ms of CPU) whenever it is installed, for a feature that
    is off unless ``NUMBA_JIT_COVERAGE`` turns it on: reporting the lines of jitted code to
    a running measurement. Unless that is asked for (or ``coverage`` is already loaded, or
    a ``.numba_config.yaml`` might ask), ``coverage`` is hidden while Numba loads; a later
    ``import coverage`` works as usual.
    """
    if (
        "numba" in sys.modules
        or "coverage" in sys.modules
        or os.environ.get("NUMBA_JIT_COVERAGE", "0").strip() not in ("", "0")
        or os.path.exists(".numba_config.yaml")
    ):
        import numba

        return numba
    sys.modules["coverage"] = None  # import coverage: ImportError
    try:
        import numba
    finally:
        if "coverage" in sys.modules and sys.modules["coverage"] is None:
            del sys.modules["coverage"]
    return numba


def _dispatcher_class():
    """Numba's CPU dispatcher, typing a call's constant arguments as plain types."""
    if _state.get("dispatcher_class") is None:
        from numba.core import types
        from numba.core.registry import CPUDispatcher

        class _Dispatcher(CPUDispatcher):
            # Called when jitted code calls this function: Numba passes a constant
            # argument as a Literal type (one per value), which would compile one
            # specialisation per value; unliteral gives the variable's type.
            def get_call_template(self, args, kws):
                args = tuple(types.unliteral(a) for a in args)
                kws = {k: types.unliteral(v) for k, v in kws.items()}
                return super().get_call_template(args, kws)

        _state["dispatcher_class"] = _Dispatcher
    return _state["dispatcher_class"]


def _cache_for(func):
    """A Numba FunctionCache for ``func`` whose only locator is the chosen folder."""
    if _state["cache_class"] is None:
        from numba.core import caching

        class _Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
            # the same sub-folder per source directory as Numba's NUMBA_CACHE_DIR locator
            def __init__(self, py_func, py_file):
                self._py_file = py_file
                self._lineno = py_func.__code__.co_firstlineno
                subpath = self.get_suitable_cache_subpath(py_file)
                self._cache_path = os.path.join(_state["location"], subpath)

            def get_cache_path(self):
                return self._cache_path

        class _Impl(caching.CompileResultCacheImpl):
            _locator_classes = [_Locator]  # noqa: RUF012  (Numba's class attribute)

        class _FunctionCache(caching.FunctionCache):
            _impl_class = _Impl

        _state["cache_class"] = _FunctionCache
    return _state["cache_class"](func)
