"""Command line: ``guarantee-sim run | validate | compare | summarize | brief | calibrate``.

A user's mistake (bad scenario, bad override, unreadable file) is reported as one clear
message on stderr with exit status 2, never as a traceback; nothing is written then.

Heavy modules (Numba, SciPy, xarray, the kernels) are imported by the commands that need
them, so ``--help``, ``--version`` and ``validate`` start fast.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import io
import json
import math
import os
import signal
import stat
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ._version import __version__

# Python's collector is off while the imports below load (the scenario models, Rich): they
# make about 100,000 objects that live as long as the command, which it would otherwise
# walk some 80 times (40-50 ms of every command); see also _importing_for_a_run
_collecting = gc.isenabled()
gc.disable()
try:
    from rich.console import Console
    from rich.text import Text

    from .analysis import sensitivity_cli
    from .analysis.distributed import add_cluster_arguments
    from .analysis.sensitivity_cli import BOOKS_DEFAULT, IN_PROCESS
    from .config import ScenarioError, ScenarioWarning, load_scenario, read_yaml
finally:
    if _collecting:
        gc.enable()

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

MILLION = 1e6
#: most designs of a sweep whose headline numbers are printed one column each
MAX_COMPARED = 12


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guarantee-sim",
        description="Simulate government credit-guarantee systems for SME lending. "
        "Money in CNY, rates as decimals per year.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    overrides = argparse.ArgumentParser(add_help=False)  # --set, shared by run/validate/compare
    overrides.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario value by dotted key; the value is read as YAML "
        "(e.g. --set parties.guarantor.fee_rate=0.005); repeatable; in compare, applies to "
        "every variant",
    )
    overrides.add_argument(
        "--strict",
        action="store_true",
        help="treat implausible values (the warnings: a PD of 0.9, a guarantor without net "
        "assets) as errors",
    )
    output = argparse.ArgumentParser(add_help=False)  # how run/compare/summarize print
    output.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table: the summary for a person (default); json: every table of the brief as "
        "{name: [rows]} for scripts; csv: one table (--table) as CSV. With json or csv, "
        "progress and other lines go to stderr, so stdout holds only the data",
    )
    output.add_argument(
        "--table",
        choices=TABLES,
        help="the table for --format csv (or only this one in json)",
    )
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print nothing but warnings and errors (no progress, no summary)",
    )
    run = sub.add_parser(
        "run",
        parents=[overrides, output, quiet],
        help="validate a scenario, simulate it, summarise, write results",
    )
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--paths", type=int, help="Monte Carlo paths (default: the scenario's)")
    run.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    run.add_argument("--out", help="results file (default: results/<scenario name>.nc)")
    run.add_argument(
        "--tail",
        nargs="?",
        const="",
        metavar="party=NAME",
        help="importance sampling of the credit cycle toward the loss tail: of the total "
        "loss (--tail) or of one party's (--tail party=guarantor); sets "
        "simulation.importance_sampling, every metric then weighs the paths by path_weight",
    )
    _add_books_option(
        run,
        "and reuse them: a later run that changes nothing the processes read (the same "
        "scenario and seed, or a change of pools, caps, capital, subsidies paid to the "
        "guarantor or targets) skips them, with the same results",
    )
    validate = sub.add_parser(
        "validate",
        parents=[overrides],
        help="only check a scenario file, or an experiment file and every variant of it "
        "(nothing runs)",
    )
    validate.add_argument("scenario", help="scenario or experiment YAML file")
    compare = sub.add_parser(
        "compare",
        parents=[overrides, output, quiet],
        help="run an experiment's variants with common random numbers and compare them",
    )
    compare.add_argument("experiment", help="experiment YAML file")
    compare.add_argument("--paths", type=int, help="paths per variant")
    compare.add_argument("--seed", type=int)
    compare.add_argument("--out", help="results file (default: results/<experiment>.nc)")
    _add_books_option(
        compare,
        "for later runs too; without the option the variants share them in memory "
        "(variants that change only pools, caps, capital or targets run the processes once)",
    )
    design = sub.add_parser(
        "design",
        parents=[overrides, quiet],
        help="solve an experiment's design: section: the least-cost lever values meeting its "
        "chance constraints (grid then local refinement, common random numbers, re-estimated "
        "on a fresh seed)",
    )
    design.add_argument("experiment", help="experiment YAML file with a design: section")
    design.add_argument("--paths", type=int, help="paths per evaluated design")
    design.add_argument("--seed", type=int, help="selection seed (the fresh one is seed + 1)")
    design.add_argument("--out", help="results file (default: results/<experiment>.nc)")
    add_cluster_arguments(design, workers_default=IN_PROCESS, books_default=BOOKS_DEFAULT)
    sweep = sub.add_parser(
        "sweep",
        parents=[overrides, quiet],
        help="run an experiment's designs on Dask (a local cluster, or --scheduler), each "
        "task written to a Zarr store at once; rerun the same command to resume",
    )
    _sweep_arguments(sweep)
    summarize = sub.add_parser(
        "summarize", parents=[output], help="reprint the summary of a results file"
    )
    schema = sub.add_parser(
        "schema",
        help="print the scenario reference: every key with its type, unit, default, range and "
        "meaning (Markdown), or with --json the JSON Schema editors validate scenarios with",
    )
    schema.add_argument("--json", action="store_true", help="print the JSON Schema")
    summarize.add_argument("results", help="NetCDF file written by `run`")
    brief = sub.add_parser(
        "brief",
        help="write a policy brief (Markdown, HTML with figures, "
        "CSV tables) from a results file of `run` or `compare`",
    )
    brief.add_argument(
        "results", help="NetCDF file written by `run`, `compare`, `sensitivity` or `design`"
    )
    brief.add_argument(
        "--lang", choices=("zh", "en"), default="zh", help="language of the brief (default: zh)"
    )
    brief.add_argument("--out", help="folder for the brief (default: results/<file>_brief_<lang>)")
    sensitivity_cli.add_parser(sub)
    _add_calibrate_parser(sub)
    return parser


def _add_books_option(parser: argparse.ArgumentParser, what_then: str) -> None:
    """``--books [DIR]`` of ``run`` and ``compare`` (:func:`_books_cache`)."""
    parser.add_argument(
        "--books",
        nargs="?",
        const="",
        metavar="DIR",
        help="keep the institution processes' books in DIR (without DIR: "
        f"~/.cache/guarantee_sim/books) {what_then}",
    )


def _add_calibrate_parser(sub) -> None:
    calibrate = sub.add_parser(
        "calibrate",
        help="fit scenario keys to observed aggregates by the method of simulated moments "
        "(common random numbers); print the fit, write it as NetCDF",
    )
    calibrate.add_argument("scenario", help="scenario YAML file whose keys are fitted")
    calibrate.add_argument(
        "--observed", required=True, help="observed file: parameters to fit and moments (YAML)"
    )
    calibrate.add_argument(
        "--parameters",
        nargs="+",
        metavar="KEY",
        help="fit only these of the observed file's parameters (dotted keys)",
    )
    calibrate.add_argument(
        "--paths", type=int, help="paths per evaluation (default: the scenario's)"
    )
    calibrate.add_argument("--seed", type=int, help="the seed of every evaluation")
    calibrate.add_argument(
        "--out", help="results file (default: results/<observed name>_calibration.nc)"
    )
    add_cluster_arguments(calibrate, workers_default=IN_PROCESS, books_default=BOOKS_DEFAULT)
    calibrate.add_argument(
        "--write-scenario",
        metavar="PATH",
        help="also write the scenario with the fitted values (its comments kept, a header "
        "naming the observed file and the fit)",
    )


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: raised where the program was, so that every ``finally``
    on the way out (temporary files) runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: the stop signals received during this invocation: an exception raised by the handler
#: can be swallowed where it lands (Numba's compiler calls back into Python through ctypes,
#: which prints and ignores it), so the signal is also kept here and checked again
_received: list[int] = []


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if _in_llvm_callback(frame):  # raised here, it would be printed and dropped: kept in
        return  # _received and raised at the run's next progress report (_Phases)
    raise Interrupted(signum)


def _in_llvm_callback(frame: FrameType | None) -> bool:
    """Whether Python code of llvmlite is on the stack: while Numba compiles or loads a
    kernel, LLVM calls back into Python through ctypes, and ctypes prints an exception
    raised there ("Exception ignored on calling ctypes callback function") and goes on."""
    llvmlite = sys.modules.get("llvmlite")
    if llvmlite is None or llvmlite.__file__ is None:
        return False
    package = os.path.dirname(llvmlite.__file__) + os.sep
    while frame is not None:
        if frame.f_code.co_filename.startswith(package):
            return True
        frame = frame.f_back
    return False


def _record_signal(signum: int, frame: object) -> None:
    _received.append(signum)


@contextlib.contextmanager
def _holding_signals() -> Iterator[None]:
    """SIGINT and SIGTERM only recorded inside the block, and raised as
    :class:`Interrupted` after it: for imports, where an exception raised by the handler
    can land in a weakref callback or a garbage collection, which print its traceback and
    go on."""
    with _stop_signals_handled_by(_record_signal):
        yield
    _raise_if_signalled()


def _raise_if_signalled() -> None:
    """Stop here if a signal arrived whose exception was swallowed on the way (called
    before anything is written, and once more when the command ends)."""
    if _received:
        raise Interrupted(_received[0])


@contextlib.contextmanager
def _stopping_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` inside the block (SIGTERM would
    otherwise end the process at once, leaving its temporary files)."""
    with _stop_signals_handled_by(_raise_interrupted):
        yield


@contextlib.contextmanager
def _stop_signals_handled_by(handler) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` inside the block, and to whatever handled them
    before after it (only Python's main thread may set handlers: elsewhere, unchanged)."""
    if threading.current_thread() is not threading.main_thread():  # main() in a thread
        yield
        return
    signums = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signums}
    for signum in signums:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, restored in previous.items():
            signal.signal(signum, restored)


#: the files and folders this invocation has written, for the message on an interrupt
_written: list[Path] = []
#: whether a command froze the objects of its imports (_importing_for_a_run)
_frozen: list[bool] = []


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _last_command[:] = [args.command]
    # user strings (labels, names, paths) are printed as they are: no Rich markup or emoji
    # codes are read from anything, so `[/red]` in a label is text, never a crash or a link
    console = Console(markup=False, emoji=False)
    _written.clear()
    _received.clear()
    try:
        with _stopping_on_signals():
            return _command(args, console)
    finally:
        if _frozen:  # see _importing_for_a_run
            _frozen.clear()
            gc.unfreeze()
            _freeze_at_exit()


def _freeze_at_exit() -> None:
    """Freeze every object when the interpreter exits, before its last collections.

    Python's shutdown collects garbage over every object the run made (its imports,
    Numba's compiled kernels): about 1 s of a warm default run's wall time, spent finding
    nothing the ending process needs freed. Frozen, they are skipped (0.3 s). Registered
    once per process; in-process callers (the tests) keep the collector as it was until
    their own exit.
    """
    if not _freezes_at_exit:
        atexit.register(gc.freeze)
        _freezes_at_exit.append(True)


#: whether _freeze_at_exit has registered its handler in this process
_freezes_at_exit: list[bool] = []

#: the command :func:`main` was last given in this process (see :func:`console_main`)
_last_command: list[str] = []
#: the commands after which the console script ends its process at once: when ``main``
#: returns they have closed, renamed or removed every file and joined every child process
#: and thread (the writer of the results, the institution processes' workers); what
#: Python's shutdown would still do is free memory (Numba's kernels, llvmlite, xarray's
#: file cache): 0.2-0.3 s of a warm default run. Not the commands that may run a Dask
#: cluster (sweep, design, calibrate, sensitivity) or a process pool (compare).
ENDS_AT_ONCE: frozenset[str] = frozenset({"run"})


def console_main() -> None:
    """The ``guarantee-sim`` console script: :func:`main`, then the process ends.

    After a command of :data:`ENDS_AT_ONCE` that left no child process or other thread
    running, stdout and stderr are flushed and the process ends with ``os._exit``,
    skipping the interpreter's teardown; otherwise (and when a flush fails, e.g. a closed
    pipe) it exits as Python does. Only for the console script: in-process callers (the
    tests, notebooks) call :func:`main`, which returns.
    """
    status = main()
    if _last_command and _last_command[0] in ENDS_AT_ONCE and _nothing_left_running():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # reported, and the status set, by Python's own exit
            sys.exit(status)
        os._exit(status)
    sys.exit(status)


def _nothing_left_running() -> bool:
    """No child process of ``multiprocessing`` alive and no thread but this one."""
    import multiprocessing

    return threading.active_count() == 1 and not multiprocessing.active_children()


def _command(args, console: Console) -> int:
    """Run the command ``args`` names; a user's mistake or an interruption is one line on
    stderr and the exit status, never a traceback."""
    try:
        command = {
            "validate": _validate,
            "run": _run,
            "compare": _compare,
            "design": _design,
            "brief": _brief,
            "summarize": _summarize,
            "schema": _schema,
            "sensitivity": _sensitivity,
            "calibrate": _calibrate,
            "sweep": _sweep,
        }[args.command]
        status = command(args, console)
        _raise_if_signalled()
        return status
    except (ScenarioError, OSError) as err:  # the user's mistake or the user's files
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM, in any phase
        signum = getattr(err, "signum", signal.SIGINT)
        kept = ", ".join(map(str, _written)) + " written" if _written else "nothing written"
        print(f"interrupted ({signal.Signals(signum).name}): {kept}", file=sys.stderr)
        return 128 + signum


def _sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    sweep.add_argument("experiment", help="experiment YAML file")
    add_cluster_arguments(sweep, workers_default="one per CPU", books_default="<store>.books")
    sweep.add_argument("--store", help="the Zarr store (default: results/<experiment>.zarr); "
                       "an existing store of the same sweep is resumed")  # fmt: skip
    sweep.add_argument("--paths", type=int, help="paths per design")
    sweep.add_argument("--seed", type=int)
    sweep.add_argument("--task-paths", type=int, help="paths per task (default: a quarter "
                       "of the paths)")  # fmt: skip
    sweep.add_argument("--summaries-only", action="store_true", help="keep each design's "
                       "outcomes (P(targets), PV public cost, VaR 99%%, P(pool depleted), "
                       "P(insolvent), P(leverage cap), with intervals), not its paths")  # fmt: skip


def _sweep(args, console: Console) -> int:
    """``guarantee-sim sweep``: guarantee_sim/sweep/command.py."""
    _refuse_kind(args.experiment, experiment=False)  # before the heavy imports
    _configure_numba_cache()
    from .sweep.command import sweep_command

    _check_paths_and_seed(args)
    with _printing_warnings():
        try:
            return sweep_command(args, console)
        except KeyboardInterrupt as err:  # sweep_command said what the store keeps
            _received.clear()
            return 128 + getattr(err, "signum", signal.SIGINT)


@contextlib.contextmanager
def _printing_warnings() -> Iterator[None]:
    """Print the implausible values found inside the block, each once, as ``warning:`` lines
    on stderr (an experiment validates the same base file once per variant)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        try:
            yield
        finally:
            shown = set()
            for w in caught:
                if not issubclass(w.category, ScenarioWarning):  # not ours: as Python would
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)
                elif str(w.message) not in shown:
                    shown.add(str(w.message))
                    print(f"warning: {w.message}", file=sys.stderr)


def _validate(args, console: Console) -> int:
    from .config.kinds import is_experiment

    data = read_yaml(args.scenario)[0]
    if sensitivity_cli.is_study(data):
        return sensitivity_cli.validate(args.scenario, console, args.overrides)
    if is_experiment(data):
        return _validate_experiment(args, console)
    with _printing_warnings():
        scenario = load_scenario(args.scenario, overrides=args.overrides, strict=args.strict)
    _check_resources(scenario, scenario.simulation.paths, "simulation.paths")
    console.print(
        Text.assemble(
            f"{args.scenario}: valid scenario ",
            (scenario.name, "bold"),
            f" ({len(scenario.segments)} segments, {len(scenario.parties)} parties, "
            f"{len(scenario.targets)} targets, years {scenario.years[0]}-"
            f"{scenario.years[-1]})",
        )
    )
    return 0


def _validate_experiment(args, console: Console) -> int:
    """Validate an experiment and every variant's scenario, without running any."""
    from .experiments import load_experiment, variant_scenarios

    experiment = load_experiment(args.scenario, overrides=args.overrides)
    with _printing_warnings():
        scenarios = variant_scenarios(args.scenario, experiment, strict=args.strict)
    _check_experiment_resources(experiment, scenarios, None)
    if experiment.design is not None:
        from .analysis.design_command import check_design

        with _printing_warnings():
            said = check_design(args.scenario, experiment, strict=args.strict)
        console.print(f"{args.scenario}: {said}")
        return 0
    parts = [f"variants {', '.join(experiment.variants)}"] if experiment.variants else []
    parts += [f"{lever.name} ({len(lever.values)} values)" for lever in experiment.grid]
    console.print(
        Text.assemble(
            f"{args.scenario}: valid experiment ",
            (experiment.name, "bold"),
            f" ({len(scenarios)} runs of {experiment.base}, every one validated: "
            f"{' x '.join(parts)})",
        )
    )
    return 0


def _design(args, console: Console) -> int:
    """Solve an experiment's ``design:`` section (analysis/design_command.py)."""
    _configure_numba_cache()
    from .analysis.design_command import check_design, run_design
    from .experiments import load_experiment

    _check_paths_and_seed(args)
    _refuse_kind(args.experiment, experiment=False)
    experiment = load_experiment(args.experiment, overrides=args.overrides)
    with _printing_warnings():  # every coarse grid point valid before any run
        check_design(args.experiment, experiment, strict=args.strict)
    out = _writable(_out(args.out, Path("results") / f"{experiment.name}.nc"))
    _written.extend(
        run_design(
            args.experiment,
            out,
            paths=args.paths,
            seed=args.seed,
            overrides=args.overrides,
            strict=args.strict,
            quiet=args.quiet,
            console=console,
            scheduler=args.scheduler,
            workers=args.workers,
            books=args.books,
        )
    )
    return 0


def _refuse_kind(path: str, *, experiment: bool) -> None:
    """``run`` given an experiment file, or ``compare`` a scenario file: say which to use."""
    from .config.kinds import SCENARIO_KEYS, is_experiment

    data = read_yaml(path)[0]
    if sensitivity_cli.is_study(data):
        raise ScenarioError(
            f"{path}: is a sensitivity study (a base scenario and a sensitivity: section), "
            f"not {'a scenario' if experiment else 'an experiment'}; run it with "
            f"`guarantee-sim sensitivity {path}`",
            path=path,
        )
    if experiment and is_experiment(data):
        raise ScenarioError(
            f"{path}: is an experiment file (a base scenario and variants); run it with "
            f"`guarantee-sim compare {path}`",
            path=path,
        )
    if not experiment and not is_experiment(data) and SCENARIO_KEYS & set(data):
        raise ScenarioError(
            f"{path}: is a scenario file, not an experiment; run it with "
            f"`guarantee-sim run {path}`",
            path=path,
        )


def _sensitivity(args, console: Console) -> int:
    """``guarantee-sim sensitivity`` (analysis/sensitivity_cli.py), given a study file."""
    from .config.kinds import is_experiment

    path = args.study
    data = read_yaml(path)[0]
    if not sensitivity_cli.is_study(data) and isinstance(data, dict):
        if is_experiment(data):
            command = "design" if "design" in data else "compare"
            raise ScenarioError(
                f"{path}: is an experiment file, not a sensitivity study (a base scenario "
                f"and a sensitivity: section); run it with `guarantee-sim {command} {path}`",
                path=path,
            )
        raise ScenarioError(
            f"{path}: is a scenario file, not a sensitivity study (a base scenario and a "
            f"sensitivity: section); run it with `guarantee-sim run {path}`, or write a "
            "study whose base: is this file",
            path=path,
        )
    return sensitivity_cli.run(args, console, _written)


def _configure_numba_cache() -> None:
    """The kernels' cache location, chosen before they are imported; warnings as one line."""
    from ._numba_cache import NumbaCacheWarning, configure_numba_cache

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NumbaCacheWarning)
        configure_numba_cache()
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)


def _progress_bar(chatter: Console, quiet: bool):
    """A Rich progress display for the phases of a run (engine/progress.py); transient."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=chatter, transient=True, disable=quiet)


class _Phases:
    """The engine's Progress shown on a Rich display: one line, the current phase."""

    def __init__(self, bar):
        self._bar = bar
        self._task = None

    def phase(self, description: str, total: int | None = None) -> None:
        _raise_if_signalled_on_main_thread()
        if self._task is not None:
            self._bar.update(self._task, visible=False)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, steps: int = 1) -> None:
        _raise_if_signalled_on_main_thread()
        if self._task is not None:
            self._bar.advance(self._task, steps)


def _raise_if_signalled_on_main_thread() -> None:
    """A signal whose exception was dropped (in an LLVM callback, say) stops the run at its
    next progress report, a block of paths later, not when the last block is done."""
    if threading.current_thread() is threading.main_thread():
        _raise_if_signalled()


@contextlib.contextmanager
def _importing_for_a_run() -> Iterator[None]:
    """Python's cyclic garbage collector off while the engine's modules are imported, and
    what they made frozen after (``gc.freeze``: kept, never scanned again).

    The imports make a few hundred thousand objects that live as long as the command;
    each full collection walks them all (0.3-0.4 s of CPU in a default run, none of it
    garbage). :func:`main` unfreezes them when the command ends, so a caller in the same
    process (the tests) is left with the collector as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        _frozen.append(True)
        if was_enabled:
            gc.enable()


def _run(args, console: Console) -> int:
    with _importing_for_a_run(), _holding_signals():  # what the processes need: Numba, SimPy
        _configure_numba_cache()
        from .engine.early import start_processes_early

    _check_paths_and_seed(args)
    overrides = list(args.overrides)
    if args.paths is not None:
        overrides.append(f"simulation.paths={args.paths}")
    if args.seed is not None:
        overrides.append(f"simulation.seed={args.seed}")
    if args.tail is not None:
        overrides.append(_tail_override(args.tail))
    _refuse_kind(args.scenario, experiment=True)
    with _printing_warnings():
        scenario = load_scenario(args.scenario, overrides=overrides, strict=args.strict)
    paths = scenario.simulation.paths
    _check_resources(scenario, paths, "--paths" if args.paths is not None else "simulation.paths")
    out = _writable(_out(args.out, Path("results") / f"{scenario.name}.nc"))
    books = _books_cache(args.books)
    _check_output_options(args)
    chatter = _chatter(args, console)
    # the institution processes start now in forked workers, which need nothing more;
    # this process imports the rest of the engine (xarray, pandas, the kernels) meanwhile
    # (engine/early.py). A cache of books may hold them: then they are not started.
    started = start_processes_early(scenario) if books is None else None
    with started if started is not None else contextlib.nullcontext():
        with _importing_for_a_run(), _holding_signals():
            from ._no_dask import xarray_without_dask
            from .engine import simulate
        with xarray_without_dask():  # a run makes no Dask arrays: see _no_dask.py
            with _progress_bar(chatter, args.quiet) as bar:
                ds = simulate(scenario, progress=_Phases(bar), books=books, started=started)
                _raise_if_signalled()
            if books is not None and books.hits and not args.quiet:
                chatter.print(f"institution processes: their books came from {books.folder}")
            _write_and_print(ds, out, args, console, chatter)
    return 0


def _books_cache(folder: str | None):
    """``run --books [DIR]``: the books' cache folder (checked writable before anything
    runs), or None without the option."""
    if folder is None:
        return None
    from .sweep.books import BookCache, user_books_folder

    path = Path(folder) if folder else user_books_folder()
    _writable_folder(path, "--books", "")
    return BookCache(path)


def _calibrate(args, console: Console) -> int:
    """Fit the observed file's parameters (analysis/calibration.py), print, write."""
    _configure_numba_cache()
    from .analysis.calibration import calibrate, launch_line
    from .analysis.calibration_tables import calibration_tables
    from .analysis.distributed import check_workers, cluster_client
    from .analysis.observed import load_observed
    from .results import write_netcdf

    _check_paths_and_seed(args)
    observed, lines = load_observed(args.observed)
    with _printing_warnings():
        scenario = load_scenario(args.scenario)
    out = _writable(_out(args.out, Path("results") / f"{observed.name}_calibration.nc"))
    paths = args.paths or scenario.simulation.paths
    check_workers(args.workers)
    with (
        warnings.catch_warnings(record=True) as caught,
        cluster_client(args.scheduler, args.workers) as client,
    ):
        warnings.simplefilter("always")
        console.print(launch_line(scenario, observed, args.parameters, paths, client))
        ds = calibrate(
            args.scenario,
            observed,
            paths=paths,
            seed=scenario.simulation.seed if args.seed is None else args.seed,
            parameters=args.parameters,
            source=args.observed,
            lines=lines,
            progress=_evaluation_line,
            client=client,
            books=args.books,
        )
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"warning: {message}", file=sys.stderr)
    _raise_if_signalled()
    write_netcdf(ds, out)
    _written.append(out)
    for table in calibration_tables(ds):
        _print_table(console, table)
    console.print(Text.assemble("calibration written to ", (str(out), "bold")))
    if args.write_scenario:
        from .analysis.calibrated_scenario import write_calibrated_scenario

        fitted = write_calibrated_scenario(args.scenario, ds, args.write_scenario)
        _written.append(fitted)
        console.print(Text.assemble("calibrated scenario written to ", (str(fitted), "bold")))
    return 0


def _evaluation_line(n: int, values) -> None:
    """One line on stderr per evaluation of a calibration (each is a whole simulation)."""
    from .analysis.calibration_tables import short_key

    keys = list(values)
    shown = ", ".join(f"{short_key(key, keys)}={value:.6g}" for key, value in values.items())
    print(f"calibrate: evaluation {n}: {shown}", file=sys.stderr, flush=True)


def _write_and_print(ds: xr.Dataset, out: Path, args, console: Console, chatter: Console) -> None:
    """Write ``ds`` to ``out`` and print its summary: the summary is made (into a buffer)
    while a child process writes the file, and printed once the file is in place, as if
    one came after the other; a summary that fails still leaves the file written."""
    from .engine.progress import WRITING
    from .results import writing_netcdf

    summary, failure = "", None
    with writing_netcdf(ds, out) as writing:
        if not args.quiet:
            try:
                summary = _rendered_results(ds, args, console)
            except Exception as err:  # raised once the file is written, as before
                failure = err
        # the rest of the write, if any, shown on a terminal (piped, a progress display
        # leaves an empty line where it was)
        with _progress_bar(chatter, args.quiet or not chatter.is_terminal) as bar:
            _Phases(bar).phase(WRITING)
            writing.wait()
    _written.append(out)
    if failure is not None:
        raise failure
    if not args.quiet:
        console.file.write(summary)
        console.file.flush()
        chatter.print(Text.assemble("results written to ", (str(out), "bold")))


def _rendered_results(ds: xr.Dataset, args, console: Console) -> str:
    """What :func:`_print_results` prints, as text (with the console's styles)."""
    if args.format == "table":
        with console.capture() as captured:  # rendered with ``console``'s options
            _print_results(ds, args, console)
        return captured.get()
    with contextlib.redirect_stdout(io.StringIO()) as buffer:  # json and csv: sys.stdout
        _print_results(ds, args, console)
    return buffer.getvalue()


def _tail_override(value: str) -> str:
    """``--tail`` as the override of ``simulation.importance_sampling`` it stands for."""
    if value == "":
        return "simulation.importance_sampling={}"
    key, sep, party = value.partition("=")
    if key.strip() != "party" or not sep or not party.strip():
        raise ScenarioError(
            f"--tail {value}: give nothing (the total loss) or party=NAME "
            "(e.g. --tail party=guarantor)",
            path="--tail",
        )
    return f"simulation.importance_sampling.party={party.strip()}"


def _check_resources(scenario, paths: int, key: str, variants: int = 1) -> None:
    """Refuse a run whose outputs cannot fit in memory (exit 2, before any work); warn when
    they would take most of it, or when the run would take long. ``key`` names the option
    or key that set ``paths``."""
    from .resources import estimate_memory, estimate_time

    memory = estimate_memory(scenario, paths, variants)
    if memory.refused:
        raise ScenarioError(f"{memory.message(key)}", path=key, key=key)
    if memory.warned:
        print(f"warning: {memory.message(key)}", file=sys.stderr)
    time = estimate_time(scenario, paths, variants)
    if time.warned:
        print(f"warning: {time.message(key)}", file=sys.stderr)


def _check_experiment_resources(experiment, scenarios: dict, paths: int | None) -> None:
    """:func:`_check_resources` for every variant at once (a comparison holds them all)."""
    first = next(iter(scenarios.values()))
    paths, key, _ = experiment.run_size(first, paths)
    _check_resources(first, paths, key, variants=len(scenarios))


def _check_paths_and_seed(args) -> None:
    if args.paths is not None and args.paths < 1:
        raise ScenarioError(
            f"--paths {args.paths}: simulation.paths must be greater than or equal to 1",
            path="--paths",
        )
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise ScenarioError(f"--seed {args.seed}: must be in 0 .. 4294967295", path="--seed")


def _out(value: str | None, default: Path) -> Path:
    """The ``--out`` given, or ``default`` when none is; an empty one is a mistake."""
    if value is None:
        return default
    if not value.strip():
        raise ScenarioError(f"--out {value!r}: is empty; give a name", path="--out")
    return Path(value)


def _special(path: Path) -> str | None:
    """What ``path`` is if it exists and is neither a regular file nor a folder (a device,
    a FIFO, a socket, a broken link); None otherwise."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if path.is_symlink() else None
    except OSError:
        return None  # unreadable: the checks of the folder say why
    kinds = {
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), None)


def _writable(out: Path) -> Path:
    """Check before simulating that the results file can be written there: a new name or a
    regular file (never a device, a FIFO or a folder, which the write would replace)."""
    if out.is_dir():
        raise ScenarioError(f"--out {out}: is a folder; give a file name", path=str(out))
    kind = _special(out)
    if kind:
        raise ScenarioError(
            f"--out {out}: is {kind}, not a regular file; give a file name", path=str(out)
        )
    existing = out.parent  # missing folders are made only when the results are written
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ScenarioError(
            f"--out {out}: cannot create its folder {out.parent} ({existing} is a file)",
            path=str(out),
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScenarioError(f"--out {out}: the folder {existing} is not writable", path=str(out))
    return out


def _compare(args, console: Console) -> int:
    with _importing_for_a_run():
        _configure_numba_cache()
        from . import engine  # noqa: F401  (imported by the runs: here, with the rest)
        from .experiments import load_experiment, run_experiment, variant_scenarios

    _check_paths_and_seed(args)
    _refuse_kind(args.experiment, experiment=False)
    experiment = load_experiment(args.experiment, overrides=args.overrides)
    with _printing_warnings():  # all valid before any run
        scenarios = variant_scenarios(args.experiment, experiment, strict=args.strict)
    _check_experiment_resources(experiment, scenarios, args.paths)
    out = _writable(_out(args.out, Path("results") / f"{experiment.name}.nc"))
    books = _books_cache(args.books)
    _check_output_options(args)
    chatter = _chatter(args, console)
    with _progress_bar(chatter, args.quiet) as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)  # printed above
        shown = _Phases(bar)
        ds = run_experiment(
            args.experiment,
            paths=args.paths,
            seed=args.seed,
            overrides=args.overrides,
            progress=shown,
            strict=args.strict,
            books=books,
        )
        _raise_if_signalled()
    _write_and_print(ds, out, args, console, chatter)
    return 0


def print_comparison(ds: xr.Dataset, console: Console, per_table: int | None = None) -> None:
    """One row per headline number, one column per variant: as many variants a table as
    the terminal's width holds (80 columns when piped), or ``per_table``."""
    from rich.table import Table

    from .experiments import comparison_table

    table_data = comparison_table(ds)
    names = list(table_data)
    keys = list(dict.fromkeys(k for row in table_data.values() for k in row))
    console.print(
        Text.assemble(
            (str(ds.attrs.get("experiment", "")), "bold"),
            f": {ds.attrs.get('question', '')} ({ds.sizes['path']} paths each, seed "
            f"{ds.attrs.get('seed')}; money in CNY m, means over paths unless named)",
        )
    )
    if per_table is None:
        label = max((len(k) for k in keys), default=0) + 4  # the row labels, with borders
        widest = max([len(n) for n in names] + [12]) + 3  # a design's column
        per_table = max(1, (console.width - label) // widest)
    for first in range(0, len(names), per_table):
        shown = names[first : first + per_table]
        table = Table()
        table.add_column("", no_wrap=True)
        for name in shown:
            table.add_column(name, justify="right")
        for key in keys:
            table.add_row(
                key, *[_comparison_cell(key, table_data[n].get(key, math.nan)) for n in shown]
            )
        _print_table(console, table)


def print_sweep(ds: xr.Dataset, console: Console) -> None:
    """The grid: one row per design (variant and lever values), P(each target reached),
    P(each pool depleted), P(each guarantor insolvent), each with its 95% interval."""
    from rich.table import Table

    from .reporting.sweeps import lever_label, sweep_measures, sweep_table

    measures = sweep_measures(ds, "en")
    if not measures.data_vars:
        return
    frame = sweep_table(ds, "en")
    dims = [c for c in frame.columns if " " not in c]  # the design's coordinates
    table = Table(title="Sweep: probabilities at each grid point (95% CI)")
    for d in dims:
        table.add_column("design" if d == "scenario" else lever_label(ds, d, "en", units=True))
    ids = [str(m) for m in measures.measure.values]
    for label in measures.measure_label.values:
        table.add_column(str(label), justify="right")
    for row in frame.to_dict("records"):
        table.add_row(
            *[str(row[d]) for d in dims],
            *[
                f"{_pct(row[f'{m} p'])} ({_pct(row[f'{m} low'])}–{_pct(row[f'{m} high'])})"
                for m in ids
            ],
        )
    _print_table(console, table)


def _comparison_cell(key: str, value: float) -> str:
    if key.startswith("P("):
        return _pct(value)
    if "borrowers" in key and "per" not in key:
        return f"{value:,.0f}"
    if key.endswith("per_additional_borrower"):
        return "—" if math.isnan(value) else f"{value:,.0f} CNY"
    return _m(value)


#: dimensions a results file needs entries along, and what they count
_DIMENSIONS = {
    "scenario": "variants",
    "path": "paths",
    "year": "years",
    "segment": "segments",
    "party": "parties",
}


def _open_results(path) -> xr.Dataset:
    from .results import open_results
    from .results.io import ResultsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResultsWarning)
        try:
            ds = open_results(path)
        except ValueError as err:
            raise ScenarioError(str(err), path=str(path)) from None
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    empty = [dim for dim in _DIMENSIONS if ds.sizes.get(dim) == 0]
    if empty:
        raise ScenarioError(
            f"{path}: the results have 0 {_DIMENSIONS[empty[0]]}: there is nothing to summarise; "
            "write them again with `guarantee-sim run` (--paths at least 1)",
            path=str(path),
        )
    return ds


def _schema(args, console: Console) -> int:
    from .config import reference

    sys.stdout.write(reference.json_text() if args.json else reference.markdown())
    return 0


def _summarize(args, console: Console) -> int:
    _check_output_options(args)
    ds = _open_results(args.results)
    if not _print_analysis(ds, args, console):
        _print_results(ds, args, console)
    return 0


def _print_analysis(ds: xr.Dataset, args, console: Console) -> bool:
    """A sensitivity study's or a design search's results, summarised as their commands
    print them (True); False for a run's or a comparison's."""
    from .results.design import is_design
    from .results.sensitivity import is_sensitivity

    sensitivity = is_sensitivity(ds)
    if not sensitivity and not is_design(ds):
        return False
    kind = "a sensitivity study" if sensitivity else "a design search"
    if args.format != "table":
        raise ScenarioError(
            f"{args.results}: holds {kind}'s results: --format {args.format} summarises a run "
            "or a comparison; its numbers are the file's variables, and its tables are in "
            f"its brief's CSV files (guarantee-sim brief {args.results})",
            path=str(args.results),
        )
    if sensitivity:
        sensitivity_cli.print_indices(ds, console)
    else:
        from .analysis.design import summarise

        for line in summarise(ds):
            console.print(line)
    return True


#: the tables ``--format json|csv`` prints: the brief's (reporting.tables.all_tables)
TABLES = (
    "designs",
    "schemes",
    "losses",
    "targets",
    "costs",
    "risks",
    "public_cost",
    "break_even",
    "exhaustion",
    "years",
)


def _check_output_options(args) -> None:
    """``--format csv`` prints one table: it needs ``--table`` (checked before any work)."""
    if args.format == "csv" and args.table is None:
        raise ScenarioError(
            "--format csv prints one table: name it with --table (one of "
            + ", ".join(TABLES)
            + "), or use --format json for all of them",
            path="--table",
        )


def _chatter(args, console: Console) -> Console:
    """Where progress and 'written to' lines go: stdout for a person, stderr when stdout
    carries data (--format json or csv)."""
    if args.format == "table":
        return console
    return Console(stderr=True, markup=False, emoji=False)


def _print_results(ds: xr.Dataset, args, console: Console) -> None:
    """The summary of a run or a comparison, as ``--format`` asks (a grid's points as
    designs of their own, and with ``--format table`` or ``json`` the sweep's table)."""
    from .results import lever_dims, stack_levers

    swept, ds = ds, stack_levers(ds)
    if args.format == "table":
        if "scenario" in ds.dims and ds.sizes["scenario"] > MAX_COMPARED and lever_dims(swept):
            console.print(
                f"{ds.sizes['scenario']:,} designs: their headline numbers are in the results "
                "file (guarantee-sim summarize --format json, or the brief); the sweep follows"
            )
        elif "scenario" in ds.dims:
            print_comparison(ds, console)
        else:
            print_summary(ds, console)
        if lever_dims(swept):
            print_sweep(swept, console)
        return
    from .reporting.tables import all_tables

    tables = all_tables(ds)
    if lever_dims(swept) and args.format == "json" and args.table is None:
        from .reporting.sweeps import sweep_table

        tables["sweep"] = sweep_table(swept)
    if args.table is not None:
        tables = {args.table: tables[args.table]}
    if args.format == "csv":
        sys.stdout.write(tables[args.table].to_csv(index=False, lineterminator="\n"))
        return
    records = {
        name: json.loads(frame.to_json(orient="records", force_ascii=False))
        for name, frame in tables.items()
    }
    sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1) + "\n")


def _brief(args, console: Console) -> int:
    from .reporting import write_brief

    path = Path(args.results)
    out = _out(args.out, Path("results") / f"{path.stem}_brief_{args.lang}")
    _writable_folder(out)  # before the work of the brief
    ds = _open_results(path)
    _raise_if_signalled()
    written = write_brief(ds, out, lang=args.lang, source=path)
    _written.append(out)
    console.print(
        Text.assemble(
            "brief written to ",
            (str(written["markdown"]), "bold"),
            " and ",
            (str(written["html"]), "bold"),
            f" ({sum(k.startswith('figures/') for k in written)} figures, "
            f"{sum(k.startswith('tables/') for k in written)} CSV tables in {out})",
        )
    )
    return 0


def _writable_folder(out: Path, option: str = "--out", purpose: str = " for the brief") -> None:
    """Check that the folder ``out`` (given as ``option``) can be written, without creating
    it: the brief's, or the books' (``--books``)."""
    kind = _special(out)
    if kind:
        raise ScenarioError(f"{option} {out}: is {kind}; give a folder{purpose}", path=str(out))
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"{option} {out} is a file; give a folder{purpose}", path=str(out))
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ScenarioError(
            f"{option} {out}: {existing} is a file, so the folder cannot be made", path=str(out)
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScenarioError(
            f"{option} {out}: the folder {existing} is not writable; give another {option}",
            path=str(out),
        )


def _m(x) -> str:
    x = float(x)
    return "—" if math.isnan(x) else f"{x / MILLION:,.2f}"


def _pct(x) -> str:
    x = float(x)
    return "—" if math.isnan(x) else f"{x:.2%}"


#: the least width a label column keeps when a table must shrink to the terminal
LABEL_MIN_WIDTH = 10


def _print_table(console: Console, table) -> None:
    """Print ``table`` so that no number is ever cut ("150,000,0…" was printed at 80
    columns): the right-aligned (number) columns get a fixed width, their widest cell when
    the table fits the terminal that way (80 columns when piped), else their widest number
    (a run without spaces that holds a digit, e.g. ``82.0%–100.0%``) so their cells wrap
    between words; only the label columns shrink, wrap or shorten. Rich alone shrinks every
    column alike and cuts numbers."""
    numbers = [c for c in table.columns if c.justify == "right"]
    natural, least = [], []
    for column in numbers:
        cells = [str(c) for c in column._cells]  # rich keeps each column's cells
        lines = [line for cell in cells for line in cell.splitlines()]
        words = [w for line in lines for w in line.split() if any(ch.isdigit() for ch in w)]
        heading = [len(w) for w in str(column.header).split()]
        natural.append(max([len(line) for line in lines] + heading + [1]))
        least.append(max([len(w) for w in words] + [1]))
    labels = len(table.columns) - len(numbers)
    overhead = 3 * len(table.columns) + 1  # padding and borders
    fits = sum(natural) + labels * LABEL_MIN_WIDTH + overhead <= console.width
    for column, width in zip(numbers, natural if fits else least, strict=True):
        column.width = width
    console.print(table)


def _year_table(console: Console, ds: xr.Dataset, years: xr.Dataset, title: str, columns) -> None:
    from rich.table import Table

    columns = [c for c in columns if c[1] in years]
    table = Table(title=title)
    table.add_column("year")
    for heading, _, _ in columns:
        table.add_column(heading, justify="right")
    # each column's values at ds's years, as an array: selecting a Dataset per year cost
    # more than the rest of the table
    cells = [years[var].sel(year=ds.year.values).values for _, var, _ in columns]
    for i, year in enumerate(ds.year.values):
        table.add_row(
            str(year), *[fmt(values[i]) for (_, _, fmt), values in zip(columns, cells, strict=True)]
        )
    _print_table(console, table)


def _process_table(console: Console, ds: xr.Dataset) -> None:
    """Institution processes over the origination years (mean over book replicas).

    Applications and their outcomes count by the segment applied to; "booked" counts the
    approved loans by the segment they are booked in (a declined credit application
    offered a guarantee is booked in the guarantee's segment), and "approved PD" is the
    mean true PD of those booked loans.
    """
    import numpy as np
    from rich.table import Table

    table = Table(
        title=f"Institution processes ({ds.attrs.get('book_replicas')} book replicas)",
        caption="applied .. days: applications by the segment applied to (days to a "
        "decision); booked, PD: approved loans by the segment booked in, their mean PD",
    )
    for col in ("segment", "applied", "approved", "rejected", "gave up", "days", "booked", "PD"):
        table.add_column(col, justify="left" if col == "segment" else "right")

    # NumPy arrays (year, segment), NaN summed as 0 as xarray's sums do, one segment's
    # column at a time as before (a segment's sums over its years, in the same order):
    # selecting DataArrays segment by segment took most of this table's time
    def by_segment(name: str):
        return ds[name].transpose("year", "segment").values

    def nan_as_0(values):
        return np.where(np.isnan(values), 0.0, values)

    total = {
        name: nan_as_0(by_segment(name)).sum(axis=0)
        for name in ("applications", "approvals", "rejections", "abandoned")
    }
    booked = (
        ds.booked_approvals.sum("applied_segment").transpose("year", "segment").values
        if "booked_approvals" in ds  # results written before it was recorded
        else by_segment("approvals")
    )
    approvals, rejections = by_segment("approvals"), by_segment("rejections")
    days_mean = nan_as_0(by_segment("decision_days_mean"))
    pd_mean = nan_as_0(by_segment("approved_pd_mean"))
    for i, (seg, label) in enumerate(zip(ds.segment.values, ds.segment_label.values, strict=True)):
        booked_here = booked[:, i]
        n_booked = float(nan_as_0(booked_here).sum())
        if float(total["applications"][i]) == 0 and n_booked == 0:
            continue
        decided = float(total["approvals"][i] + total["rejections"][i])
        days = nan_as_0(days_mean[:, i] * (approvals[:, i] + rejections[:, i])).sum() / max(
            decided, 1.0
        )
        pd = nan_as_0(pd_mean[:, i] * booked_here).sum() / max(n_booked, 1.0)
        table.add_row(
            f"{seg} {label}",
            f"{float(total['applications'][i]):,.0f}",
            f"{float(total['approvals'][i]):,.0f}",
            f"{float(total['rejections'][i]):,.0f}",
            f"{float(total['abandoned'][i]):,.0f}",
            f"{float(days):.1f}" if decided > 0 else "-",
            f"{n_booked:,.0f}",
            f"{float(pd):.2%}" if n_booked > 0 else "-",
        )
    _print_table(console, table)
    active = ds.applications.sum("segment") > 0
    util = ds.staff_utilisation.where(active).mean("year", skipna=True)
    parts = [
        f"{p}: {float(u):.0%}"
        for p, u in zip(ds.party.values, util.values, strict=True)
        if not math.isnan(u)
    ]
    console.print("staff utilisation in the years with applications: " + ", ".join(parts))


def _ci_name(interval: xr.Dataset) -> str:
    """'95% CI', or 'approximate 95% CI' below the minimum number of book replicas."""
    return "approximate 95% CI" if interval.attrs["approximate"] else "95% CI"


def _spread_table(console: Console, ds: xr.Dataset) -> None:
    """Per target: the share of the variance of attainment over paths by source (nothing
    for results written without it)."""
    import numpy as np
    from rich.table import Table

    if "attainment_variance_share" not in ds:
        return
    shares = ds["attainment_variance_share"]
    table = Table(
        title="What drives the spread of attainment (share of its variance over paths)",
        caption="Shapley R² decomposition; defaults: the rest (DESIGN §5)",
    )
    table.add_column("target")
    for source in shares.variance_source.values:
        table.add_column(str(source).replace("_", " "), justify="right")
    for target in ds.target.values:
        row = shares.sel(target=target).values
        note = str(ds.attainment_variance_note.sel(target=target).values)
        cells = [f"{x:.0%}" for x in row] if np.isfinite(row).all() else [note, "", "", ""]
        table.add_row(str(target), *cells)
    _print_table(console, table)


def _print_sampling(ds: xr.Dataset, console: Console) -> None:
    """Under importance sampling: toward which tail, and the effective sample size."""
    if ds.attrs.get("importance_sampling") != "on":
        return
    from .results import effective_sample_size

    party = ds.attrs.get("importance_sampling_party") or "total"
    level = float(ds.attrs.get("importance_sampling_level", float("nan")))
    console.print(
        f"importance sampling toward the {level:.1%} tail of the {party} loss: every figure "
        f"weighs the paths by path_weight; effective sample size "
        f"{effective_sample_size(ds):,.1f} of {ds.sizes['path']:,} paths (tail figures "
        "rest on many more paths beyond their quantile than plain sampling gives; means "
        "and shares of ordinary outcomes on fewer)"
    )


def _tails_shown(ds: xr.Dataset, losses: xr.Dataset) -> dict[float, bool]:
    """Whether VaR 99% and 99.9% rest on enough paths beyond them to be shown: as many as
    plain sampling puts there, or under importance sampling those actually beyond."""
    from .reporting.tables import MIN_TAIL_PATHS, tail_shown

    if ds.attrs.get("importance_sampling") != "on":
        return {level: tail_shown(ds.sizes["path"], level) for level in (0.99, 0.999)}
    loss = ds["loss"].sum("year")
    return {
        level: bool(((loss >= losses[name]).sum("path") >= MIN_TAIL_PATHS).all())
        for level, name in ((0.99, "var_99"), (0.999, "var_99_9"))
    }


def print_summary(ds: xr.Dataset, console: Console) -> None:
    """Print the run's summary: losses by party, the years, targets and risks."""
    from rich.table import Table

    from .results import (
        breaker_paths,
        depleted_paths,
        fiscal_cost_per_borrower,
        fiscal_cost_per_lending,
        insolvent_paths,
        loss_summary,
        probability_interval,
        segments_with_tags,
        weighted_mean,
        yearly_summary,
    )

    console.print(
        Text.assemble(
            (str(ds.attrs.get("scenario", "")), "bold"),
            f" {ds.attrs.get('scenario_label', '')} — {ds.sizes['path']} paths, seed "
            f"{ds.attrs.get('seed')}, {ds.attrs.get('granularity', '')} granularity",
        )
    )
    _print_sampling(ds, console)
    losses = loss_summary(ds)
    from .reporting.tables import MIN_TAIL_PATHS

    paths = ds.sizes["path"]
    shown = _tails_shown(ds, losses)
    table = Table(
        title="Loss over the run by party (CNY m)",
        caption=None
        if all(shown.values())
        else f"—: fewer than {MIN_TAIL_PATHS} of the {paths:,} paths beyond the quantile",
    )
    for col in ("party", "mean", "VaR 99%", "VaR 99.9%", "ES 99%"):
        table.add_column(col, justify="left" if col == "party" else "right")
    rows = {name: losses[name].sel(party=ds.party.values).values for name in losses.data_vars}
    for i, (party, label) in enumerate(zip(ds.party.values, ds.party_label.values, strict=True)):
        table.add_row(
            f"{party} {label}",
            _m(rows["mean"][i]),
            _m(rows["var_99"][i]) if shown[0.99] else "—",
            _m(rows["var_99_9"][i]) if shown[0.999] else "—",
            _m(rows["es_99"][i]) if shown[0.99] else "—",
        )
    _print_table(console, table)

    years = yearly_summary(ds)
    # one balance column per pool (the summary's pool_balance adds them all up)
    pools = [
        str(p) for p, k in zip(ds.party.values, ds.party_kind.values, strict=True) if k == "pool"
    ]
    for pool in pools:
        years[f"pool_balance:{pool}"] = weighted_mean(ds["capital"].sel(party=pool, drop=True))
    count = lambda v: f"{float(v):,.0f}"  # noqa: E731
    _year_table(
        console,
        ds,
        years,
        "Lending and losses by year, mean over paths (CNY m)",
        [
            ("new loans", "loans_count", count),
            ("lending", "loans_amount", _m),
            ("defaults", "defaults_count", count),
            ("credit loss", "credit_loss", _m),
            ("unmet demand", "unmet_demand_amount", _m),
        ],
    )
    _year_table(
        console,
        ds,
        years,
        "Guarantor, pools and budget by year, mean over paths (CNY m)",
        [
            ("guarantor capital", "guarantor_capital", _m),
            ("leverage", "guarantor_leverage", lambda v: f"{float(v):.2f}"),
            ("comp. rate", "guarantor_compensation_rate", _pct),
            *[(f"pool {pool} balance", f"pool_balance:{pool}", _m) for pool in pools],
            ("fiscal cost", "fiscal_cost", _m),
        ],
    )

    if "applications" in ds:
        _process_table(console, ds)

    if ds.sizes.get("target"):
        reached = probability_interval(ds.target_attainment >= 1.0)
        ci = _ci_name(reached)
        table = Table(title="Targets", caption=f"{ci}: {reached.attrs['method']}")
        # two-line headings: a heading sets its column's least width (rich does not wrap it)
        for col in ("target", "target\nvalue", "mean\nattained", "P\n(reached)", "95% CI"):
            table.add_column(col, justify="left" if col == "target" else "right")
        # the targets' variables as arrays (selecting all of ds per target cost most of
        # the table); the mean attained still over one target's paths at a time
        spec = {
            name: ds[name].values
            for name in (
                "target_kind",
                "target_from_year",
                "target_to_year",
                "target_label",
                "target_value",
                "target_probability",
            )
        }
        low, high = (reached[x].sel(target=ds.target.values).values for x in ("low", "high"))
        for i, t in enumerate(ds.target.values):
            attained = weighted_mean(ds.target_attainment.isel(target=i))
            table.add_row(
                f"{t} ({spec['target_kind'][i]} {spec['target_from_year'][i]}-"
                f"{spec['target_to_year'][i]}) {spec['target_label'][i]}",
                f"{float(spec['target_value'][i]):,.0f}",
                f"{float(attained):.1%}",
                f"{float(spec['target_probability'][i]):.1%}",
                f"{low[i]:.1%}–{high[i]:.1%}",
            )
        _print_table(console, table)
        _spread_table(console, ds)

    risks = []
    for hits, what in (
        (depleted_paths(ds), "pool {}: P(depleted: its balance could not pay a share)"),
        (breaker_paths(ds), "pool {}: P(circuit breaker tripped)"),
        (insolvent_paths(ds), "guarantor {}: P(net assets <= 0)"),
    ):
        shares = probability_interval(hits)
        p, low, high = (shares[x].values for x in ("p", "low", "high"))
        for i, party in enumerate(shares.party.values):
            risks.append(
                f"{what.format(party)} = {float(p[i]):.1%} ({_ci_name(shares)} "
                f"{float(low[i]):.1%}–{float(high[i]):.1%})"
            )
    public = float(weighted_mean(ds["public_loss"].sum("year")))
    fiscal = float(weighted_mean(ds["fiscal_cost"].sum("year")))
    risks.append(
        f"public loss, mean over the run: {_m(public)} CNY m; fiscal cost: {_m(fiscal)} CNY m"
    )
    per_lending = float(fiscal_cost_per_lending(ds))
    risks.append(f"fiscal cost per 100 m CNY of new lending: {per_lending:,.0f} CNY")
    if segments_with_tags(ds, ["first_time"]):
        risks.append(
            f"fiscal cost per first-time borrower: {float(fiscal_cost_per_borrower(ds)):,.0f} CNY"
        )
    for line in risks:
        console.print(line)
    _public_cost_section(console, ds)


def _fee(x) -> str:
    x = float(x)
    return "—" if math.isnan(x) else f"{x:.3%}"


def _first_year(x) -> str:
    x = float(x)
    return "—" if math.isnan(x) else "never" if math.isinf(x) else str(int(x))


def _public_cost_section(console: Console, ds: xr.Dataset) -> None:
    """Public cost and break-even: present values, subsidy rate, break-even and zero-subsidy
    fees, years to capital exhaustion (what the results lack is named, not guessed)."""
    from rich.table import Table

    from .reporting.tables import (
        break_even_table,
        exhaustion_table,
        missing_cost_variables,
        public_cost_table,
    )

    console.print(Text("Public cost and break-even", style="bold"))
    missing = missing_cost_variables(ds)
    if missing:
        console.print(
            "these results lack " + ", ".join(missing) + " (written by an older guarantee_sim?): "
            "what needs them is left out; run the scenario again for all of it"
        )
    cost = public_cost_table(ds).iloc[0]
    if not math.isnan(cost.get("public_cost_pv_mean", math.nan)):
        rate = cost["discount_rate"]
        table = Table(
            title=f"Present values at {_pct(rate)} a year, to the start of {int(ds.year[0])} "
            "(mid-year), CNY m"
        )
        for col in ("", "mean", "95% CI", "5%-95% of paths"):
            table.add_column(col, justify="left" if not col else "right")
        for label, var in (
            ("public cost (net cash to private parties)", "public_cost"),
            ("fiscal cost (budget outlays)", "fiscal_cost"),
            ("public operating cost (not in the subsidy rate)", "public_operating_cost"),
        ):
            table.add_row(
                label,
                _m(cost[f"{var}_pv_mean"]),
                f"{_m(cost[f'{var}_pv_ci_low'])} to {_m(cost[f'{var}_pv_ci_high'])}",
                f"{_m(cost[f'{var}_pv_p05'])} to {_m(cost[f'{var}_pv_p95'])}",
            )
        _print_table(console, table)
        console.print(
            f"subsidy rate: {float(cost['subsidy_rate']):.3f} CNY per 100 CNY guaranteed "
            f"(95% CI {float(cost['subsidy_rate_ci_low']):.3f} to "
            f"{float(cost['subsidy_rate_ci_high']):.3f}; PV of guaranteed lending "
            f"{_m(cost['guaranteed_lending_pv_mean'])} CNY m)"
            if math.isfinite(cost["subsidy_rate"])
            else "subsidy rate: none (no lending is guaranteed: no segment's scheme has coverage)"
        )
        if "zero_subsidy_fee" in cost:
            note = str(cost["zero_subsidy_note"] or "")
            console.print(
                f"zero-subsidy fee of the public guarantors: {note}"
                if note
                else f"zero-subsidy fee of the public guarantors ({cost['public_guarantors']}): "
                f"{_fee(cost['zero_subsidy_fee'])} a year (95% CI "
                f"{_fee(cost['zero_subsidy_fee_ci_low'])} to "
                f"{_fee(cost['zero_subsidy_fee_ci_high'])}); they charge "
                f"{_fee(cost['public_guarantor_fee'])} (approvals, demand and subsidies as "
                "simulated)"
            )
    fees = break_even_table(ds)
    if len(fees):
        table = Table(title="Break-even fee per guarantor (a year, book as simulated)")
        for col in ("guarantor", "charged", "break-even", "95% CI", "paths 5%", "median", "95%"):
            table.add_column(col, justify="left" if col == "guarantor" else "right")
        for r in fees.itertuples():
            table.add_row(
                f"{r.party} {r.label}",
                _fee(r.fee_charged),
                _fee(r.break_even),
                f"{_fee(r.break_even_ci_low)} to {_fee(r.break_even_ci_high)}",
                _fee(r.break_even_p05),
                _fee(r.break_even_median),
                _fee(r.break_even_p95),
            )
        _print_table(console, table)
    exhaustion = exhaustion_table(ds)
    if len(exhaustion):
        records = exhaustion.to_dict("records")
        # only the years in which it first happens on some path: eight columns of 0% do not
        # fit a terminal and say nothing the "never" column does not
        years = [
            str(int(y)) for y in ds.year.values if any(r[f"share_{int(y)}"] > 0 for r in records)
        ]
        table = Table(
            title="First year of capital exhaustion / leverage cap binding (share of paths)",
            caption="years in which neither happens on any path are left out",
        )
        for col in ("guarantor", "event", *years, "never", "median year"):
            table.add_column(col, justify="left" if col in ("guarantor", "event") else "right")
        events = {"capital_exhausted": "net assets <= 0", "leverage_cap_binding": "cap binds"}
        for r in records:
            table.add_row(
                f"{r['party']} {r['label']}",
                events[r["event"]],
                *[_pct(r[f"share_{y}"]) for y in years],
                _pct(r["never"]),
                _first_year(r["first_year_median"]),
            )
        _print_table(console, table)


if __name__ == "__main__":  # pragma: no cover
    console_main()
