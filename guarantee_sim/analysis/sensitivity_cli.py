"""``guarantee-sim sensitivity STUDY``: plan, estimate, run, write, print (the CLI's part).

Kept out of ``cli.py`` so that the command's parser entry and dispatch line are all it
adds there. Errors are :class:`~guarantee_sim.config.ScenarioError` (the CLI prints them
as one line, status 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import ScenarioError
from .distributed import add_cluster_arguments

#: what the analyses do without --workers or --scheduler, and without --books (the help)
IN_PROCESS = "0, in this process, as a plain run"
BOOKS_DEFAULT = "in memory in this process; on a cluster ~/.cache/guarantee_sim/books"

if TYPE_CHECKING:  # pragma: no cover - the heavy modules load when the command runs
    import xarray as xr

    from .sensitivity import Plan


def add_parser(sub) -> None:
    """The ``sensitivity`` subcommand's arguments."""
    parser = sub.add_parser(
        "sensitivity",
        help="Sobol or Morris sensitivity of the outcomes to the scenario's uncertain "
        "parameters (a study file with a sensitivity: section); writes NetCDF",
    )
    parser.add_argument("study", help="study YAML file (base, sensitivity: method, n, ...)")
    parser.add_argument("--paths", type=int, help="paths per sample point (default: the study's)")
    parser.add_argument("--seed", type=int, help="seed of every point and of the sample")
    parser.add_argument("--out", help="results file (default: results/<study name>.nc)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the file written")
    add_cluster_arguments(parser, workers_default=IN_PROCESS, books_default=BOOKS_DEFAULT)


def is_study(data: object) -> bool:
    """Whether a file's top-level mapping is a sensitivity study (a ``sensitivity`` section)."""
    return isinstance(data, dict) and "base" in data and "sensitivity" in data


def describe(plan: Plan) -> str:
    """One line: runs, paths, method, parameters."""
    spec = plan.study.sensitivity
    size = f"N={spec.n}" + (f", {spec.levels} levels" if spec.method == "morris" else "")
    return (
        f"{plan.runs:,} runs of {plan.paths:,} paths ({spec.method}, {size}, "
        f"{len(plan.params)} parameters: {', '.join(p.name for p in plan.params)}; "
        f"{len(plan.outputs)} outputs)"
    )


def validate(path: str, console: Console, overrides: list[str] | None = None) -> int:
    """``guarantee-sim validate`` of a study file: everything ``sensitivity`` would check."""
    from .sensitivity import plan_study

    if overrides:
        raise ScenarioError(
            f"{path}: --set is not read for a sensitivity study: put the changes in its "
            "overrides: section",
            path=path,
        )

    plan = plan_study(path)
    console.print(
        Text.assemble(
            f"{path}: valid sensitivity study ", (plan.study.name, "bold"), f": {describe(plan)}"
        )
    )
    return 0


def run(args, console: Console, written: list[Path]) -> int:
    """Plan (validating everything), state the run count and the time estimate, run, write
    the NetCDF atomically, print the indices."""
    from ..config import load_scenario
    from ..results.io import write_netcdf
    from .distributed import check_workers, cluster_client, launch_estimate
    from .sensitivity import plan_study, run_study

    for name in ("paths", "seed"):
        value = getattr(args, name)
        if value is not None and (value < (1 if name == "paths" else 0) or value >= 2**32):
            raise ScenarioError(f"--{name} {value}: out of range", path=args.study)
    plan = plan_study(args.study, paths=args.paths, seed=args.seed)
    out = Path(args.out) if args.out else Path("results") / f"{plan.study.name}.nc"
    if out.is_dir():
        raise ScenarioError(f"--out {out} is a folder; give a file", path=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if args.quiet else console.print
    check_workers(args.workers)
    say(f"sensitivity {plan.study.name}: {describe(plan)}")
    step = max(plan.runs // 10, 1)

    def estimate(seconds: float) -> None:
        say(f"estimated CPU time: {seconds:,.0f} s (from the first points)")

    def advanced(i: int) -> None:
        if (i + 1) % step == 0 or i + 1 == plan.runs:
            say(f"  {i + 1:,}/{plan.runs:,} points")

    with cluster_client(args.scheduler, args.workers) as client:
        scenario = load_scenario(plan.base, overrides=plan.common)
        say(f"estimated time: {launch_estimate(scenario, plan.runs, plan.paths, client)}")
        ds = run_study(
            plan, client=client, books=args.books, on_estimate=estimate, on_point=advanced
        )
    write_netcdf(ds, out)
    written.append(out)
    if not args.quiet:
        print_indices(ds, console)
    console.print(Text.assemble("sensitivity written to ", (str(out), "bold")))
    return 0


def print_indices(ds: xr.Dataset, console: Console) -> None:
    """The main index (Sobol ST, Morris mu*) with its half-width, output by parameter."""
    import numpy as np

    from ..results.sensitivity import RESOLVED_HALF_WIDTH, unresolved_outputs

    main = "ST" if ds.attrs["method"] == "sobol" else "mu_star"
    cost = f"{ds.attrs.get('runs', '?')} runs"
    if "cpu_seconds" in ds.attrs:  # (a file of another version may not say)
        cost += f", {ds.attrs['cpu_seconds']} s CPU"
    table = Table(title=f"{main} ± 95% half-width ({cost})")
    table.add_column("output", overflow="fold")
    for p in ds.parameter.values:
        table.add_column(str(p), justify="right")
    for o in ds.output.values:
        row = [str(o)]
        for p in ds.parameter.values:
            x = float(ds.sensitivity_index.sel(output=o, parameter=p, index=main))
            h = float(ds.sensitivity_index.sel(output=o, parameter=p, index=f"{main}_conf"))
            row.append("—" if np.isnan(x) else f"{x:.3g}±{h:.2g}")
        table.add_row(*row)
    console.print(table)
    unresolved = unresolved_outputs(ds)
    if unresolved:  # indices of noise: say so where they are printed
        console.print(
            f"not resolved at this size (some ST half-width > {RESOLVED_HALF_WIDTH}): "
            + ", ".join(unresolved)
            + "; a larger N or more paths per run, or the parameters do not move them"
        )
