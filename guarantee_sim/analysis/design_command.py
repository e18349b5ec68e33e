"""``guarantee-sim design EXPERIMENT``: solve the design, write the results and figures,
print the answer (the command line's parser and checks of its options are in cli.py)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from rich.console import Console

from ..config import ScenarioWarning
from ..experiments import Experiment
from ..results import write_netcdf
from .design import Evaluation, coarse_values, design_scenarios, solve_design, summarise


def check_design(path: str | Path, experiment: Experiment, *, strict: bool = False) -> str:
    """Validate a design experiment without running it: what ``validate`` prints."""
    design_scenarios(path, experiment, strict=strict)
    spec = experiment.design
    assert spec is not None
    levers = ", ".join(f"{x.name} in [{x.lower:g}, {x.upper:g}]" for x in spec.levers)
    points = math.prod(len(coarse_values(x, spec.search.grid_points)) for x in spec.levers)
    return (
        f"valid experiment {experiment.name} ({points} runs of {experiment.base}, every one "
        f"validated: the coarse grid of a design of {levers}, {len(spec.constraints)} "
        "constraints; the refinement's points lie between the grid's)"
    )


def most_runs(experiment: Experiment) -> tuple[int, int]:
    """The coarse grid's runs, and the most the search can make: the grid, each refinement
    round's neighbours of the incumbent (3^levers - 1) and the fresh re-estimate."""
    spec = experiment.design
    assert spec is not None
    grid = math.prod(len(coarse_values(x, spec.search.grid_points)) for x in spec.levers)
    return grid, grid + spec.search.refine_rounds * (3 ** len(spec.levers) - 1) + 1


def launch_line(
    experiment_path: str, experiment: Experiment, paths: int | None, seed: int | None, client
) -> str:
    """What ``design`` says before it runs: the runs, their paths and the time estimate."""
    from ..config import load_scenario
    from ..experiments import _base_scenario
    from .distributed import launch_estimate

    base = _base_scenario(Path(experiment_path), experiment)
    probe = load_scenario(base, overrides=experiment.overrides)
    paths = experiment.run_size(probe, paths, seed)[0]
    grid, most = most_runs(experiment)
    return (
        f"design {experiment.name}: {grid:,} coarse-grid runs, at most {most:,} with the "
        "refinement and the fresh re-estimate; estimated time for the most, "
        + launch_estimate(probe, most, paths, client)
    )


def run_design(
    experiment_path: str,
    out: Path,
    *,
    paths: int | None,
    seed: int | None,
    overrides,
    strict: bool,
    quiet: bool,
    console: Console,
    scheduler: str | None = None,
    workers: int | None = None,
    books: str | None = None,
) -> list[Path]:
    """Solve, write the Dataset (NetCDF, atomically) and its figure in zh and en beside it
    (``<out stem>_{zh,en}.png``), print the answer; the files written. The designs run in
    this process, or as Dask tasks with ``scheduler`` or ``workers`` (same numbers)."""
    from ..experiments import load_experiment
    from ..reporting.design import design_figure
    from .distributed import check_workers, cluster_client

    def shown(e: Evaluation) -> None:
        if not quiet:
            point = ", ".join(f"{k}={v:.6g}" for k, v in e.point.items())
            state = "feasible" if e.feasible else f"violation {e.violation:.3f}"
            console.print(f"  round {e.round}: {point}: objective {e.objective:.4g}, {state}")

    check_workers(workers)
    with warnings.catch_warnings(), cluster_client(scheduler, workers) as client:
        warnings.simplefilter("ignore", ScenarioWarning)  # printed by the validation
        if not quiet:
            experiment = load_experiment(experiment_path, overrides)
            console.print(launch_line(experiment_path, experiment, paths, seed, client))
        ds = solve_design(
            experiment_path,
            paths=paths,
            seed=seed,
            overrides=overrides,
            strict=strict,
            on_evaluation=shown,
            client=client,
            books=books,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [write_netcdf(ds, out)]
    for lang in ("zh", "en"):
        figure = out.with_name(f"{out.stem}_{lang}.png")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no CJK font: English labels, said once below
            design_figure(ds, lang=lang).savefig(figure, dpi=120)
        written.append(figure)
    if not quiet:
        for line in summarise(ds):
            console.print(line)
        console.print("written: " + ", ".join(map(str, written)))
    return written
