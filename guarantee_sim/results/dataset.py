"""Assemble named arrays into the public results Dataset (DESIGN §5).

The engine names its arrays (``{name: (dims, array)}``); this module knows the names,
dims and units of the results contract and nothing of how they were computed. Every
variable carries CF-style ``units`` and ``long_name``. Money is CNY, counts are loans (a
rationed record counts by its admitted share), rates are decimals per year.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import xarray as xr
import yaml

from .decomposition import METHOD, attainment_variance_shares
from .metrics import target_attainment
from .weights import weighted_mean

#: the implicit party that carries what a party owed but could not pay (DESIGN §4)
UNABSORBED = "unabsorbed"

VARIABLE_META = {
    # per path, year, segment
    "loans_count": ("1", "new loans made in the year (renewals included)"),
    "loans_amount": ("CNY", "amount of new loans made in the year"),
    "borrowers": ("1", "new borrowers served in the year (first loans, renewals excluded)"),
    "outstanding_amount": ("CNY", "loan balance outstanding at year end"),
    "defaults_count": ("1", "loans defaulting in the year"),
    "default_amount": ("CNY", "exposure at default of loans defaulting in the year"),
    "credit_loss": ("CNY", "credit loss (exposure x LGD) of the year's defaults"),
    "unmet_demand_amount": ("CNY", "new lending refused for lack of guarantee or pool capacity"),
    "demand_multiplier": (
        "1",
        "the path's demand multiplier min(D, D_hi) on the year's new lending (credit cycle)",
    ),
    "cohort_loans_count": (
        "1",
        "loans made in the year to firms whose first loan was in the segment (their cohort; "
        "initial book: its firms), renewals included wherever they are booked",
    ),
    "cohort_loans_amount": (
        "CNY",
        "amount of loans made in the year to firms whose first loan was in the segment, "
        "renewals included wherever they are booked",
    ),
    # per path, year, party
    "payout": ("CNY", "cash paid for defaults in the year (bank: written off)"),
    "recovery": ("CNY", "cash recovered in the year"),
    "loss": ("CNY", "net loss recognised in the year of default (payout share x LGD)"),
    "shortfall": ("CNY", "loss the party was asked to take but could not (passed on)"),
    "fee_income": ("CNY", "guarantee or re-guarantee fees earned in the year"),
    "capital": ("CNY", "year-end net assets (guarantors, re-guarantors) or balance (pools)"),
    "guarantee_outstanding": ("CNY", "year-end covered exposure the party is liable for"),
    "leverage": ("1", "year-end weighted guarantee liability / net assets"),
    "max_origination_leverage": ("1", "highest leverage right after a month's new guarantees"),
    "compensation_rate": (
        "1/year",
        "compensation rate on the party's basis: covered defaults in the year / covered "
        "balance, or compensations in the year / covered guarantees released in the year",
    ),
    "pool_depleted": (
        "1",
        "1 if the pool was asked for a share while its breaker was not tripped and its "
        "uncommitted balance could not pay all of it",
    ),
    "pool_breaker_tripped": ("1", "1 if the pool's NPL circuit breaker was tripped in any month"),
    "fee_subsidy": ("CNY", "fee subsidy the guarantor received from the budget"),
    "operating_cost": ("CNY", "the guarantor's operating cost"),
    "reguarantee_fees": ("CNY", "re-guarantee fees the guarantor paid"),
    "fee_base": (
        "CNY year",
        "balance the party's fee is charged on, summed over the year's months / 12 "
        "(guarantors: covered loans; re-guarantors: their share of them)",
    ),
    "capital_exhausted": ("1", "1 if net assets were at or below zero at any month end"),
    "leverage_cap_binding": ("1", "1 if the leverage cap rationed any new guarantee"),
    "capital_injection": ("CNY", "capital injected into the party by the budget"),
    # per path, year
    "fiscal_cost": (
        "CNY",
        "budget outlays: pool contributions, interest and fee subsidies, capital injections",
    ),
    "public_loss": ("CNY", "losses of government-owned parties (public: true)"),
    "public_cost": (
        "CNY",
        "consolidated public sector's net cash flow to private parties (payouts less "
        "recoveries of public parties, subsidies, injections into private parties, "
        "re-guarantee fees across the boundary, less fees received); operating costs excluded",
    ),
    "public_operating_cost": ("CNY", "operating costs of public guarantors"),
    # from the institution processes (mean over book replicas), per year, segment / party;
    # counted by arrival year and the segment applied to, unless said otherwise
    "applications": ("1", "loan applications arriving in the year"),
    "approvals": ("1", "applications approved, in any segment (decided in any year)"),
    "booked_approvals": (
        "1",
        "applications to applied_segment approved with the loan booked in segment",
    ),
    "rejections": ("1", "applications declined by the bank or the guarantor"),
    "abandoned": ("1", "applicants who gave up waiting in a queue"),
    "decision_days_mean": ("d", "mean days from application to decision"),
    "approved_pd_mean": (
        "1/year",
        "mean true annual PD of approved applicants, by the segment booked in",
    ),
    "staff_utilisation": ("1", "busy staff time / available staff time (real headcount)"),
    # uncertain parameters (drawn per path, or per book replica: parameter_drawn_per)
    "parameter_value": (
        "1",
        "the path's drawn value of each uncertain parameter (its units: parameter_units; "
        "per book replica for the lenders' decision parameters)",
    ),
    # the credit cycle (per path, year, factor)
    "year_factor": (
        "1",
        "the path's draw of the systematic factor in the year, N(0, 1) before the "
        "scenario's downturn shift (higher: a better year, fewer defaults)",
    ),
    # targets
    "target_attainment": ("1", "achieved / target"),
    "target_probability": ("1", "share of paths meeting the target"),
    "attainment_variance": ("1", "variance of target_attainment over paths"),
    "attainment_variance_share": (
        "1",
        "share of the variance of target_attainment over paths due to each source "
        "(Shapley R² decomposition; sums to 1 over variance_source)",
    ),
    "attainment_variance_note": (
        "1",
        "text: why the variance shares are NaN or use linear terms only ('' when neither)",
    ),
}


#: party variables that only some kinds of party have, and the kinds that have them; the
#: others get NaN (DESIGN §4 and §5: ``unabsorbed`` has a loss and no cash flows, the bank
#: no capital, a pool no leverage, only guarantors a leverage at origination)
PARTY_VARIABLE_KINDS = {
    "payout": ("bank", "guarantor", "reguarantor", "pool"),
    "recovery": ("bank", "guarantor", "reguarantor", "pool"),
    "shortfall": ("bank", "guarantor", "reguarantor", "pool"),
    "fee_income": ("bank", "guarantor", "reguarantor", "pool"),
    "capital": ("guarantor", "reguarantor", "pool"),
    "guarantee_outstanding": ("guarantor", "reguarantor", "pool"),
    "leverage": ("guarantor", "reguarantor"),
    "max_origination_leverage": ("guarantor",),
    "compensation_rate": ("guarantor", "reguarantor"),
    "pool_depleted": ("pool",),
    "pool_breaker_tripped": ("pool",),
    "fee_subsidy": ("guarantor",),
    "operating_cost": ("guarantor",),
    "reguarantee_fees": ("guarantor",),
    "fee_base": ("guarantor", "reguarantor"),
    "capital_exhausted": ("guarantor", "reguarantor"),
    "leverage_cap_binding": ("guarantor",),
    "capital_injection": ("guarantor", "reguarantor"),
}


PROCESS_VARIABLES = (
    "applications",
    "approvals",
    "booked_approvals",
    "rejections",
    "abandoned",
    "decision_days_mean",
    "approved_pd_mean",
    "staff_utilisation",
)


#: coordinate -> (units or None, long_name)
COORD_META: dict[str, tuple[str | None, str]] = {
    "path": ("1", "Monte Carlo path"),
    "replica": ("1", "book replica the path lends from (path mod book_replicas)"),
    "path_weight": (
        "1",
        "the path's likelihood ratio under importance sampling of the credit cycle, by "
        "which every metric weighs it (1 on every path of plain Monte Carlo)",
    ),
    "year": ("year", "calendar year"),
    "segment": (None, "loan segment"),
    "applied_segment": (None, "loan segment applied to"),
    "party": (None, "party sharing losses"),
    "segment_label": (None, "segment label"),
    "segment_tags": (None, "segment tags"),
    "segment_lgd": ("1", "loss given default"),
    "party_kind": (None, "kind of party"),
    "party_label": (None, "party label"),
    "party_public": ("1", "1 if government-owned"),
    "party_leverage_cap": ("1", "leverage cap in the first year (NaN: none)"),
    "party_compensation_rate_cap": (
        "1/year",
        "compensation-rate cap in the first year (NaN: none)",
    ),
    "scheme": (None, "loss-sharing scheme"),
    "scheme_label": (None, "scheme label"),
    "scheme_coverage": ("1", "share of a loan's loss the bank passes on (first year's terms)"),
    "scheme_split": (
        "1",
        "party's proportion of the covered part of the loss (first year's terms)",
    ),
    "segment_scheme": (None, "loss-sharing scheme of the segment"),
    "target": (None, "plan target"),
    "target_label": (None, "target label"),
    "target_metric": (None, "metric counted"),
    "target_kind": (None, "flow or stock"),
    "target_tags": (None, "segment tags counted"),
    "target_from_year": ("year", "first year of the period"),
    "target_to_year": ("year", "last year of the period"),
    "target_value": ("CNY or 1", "target value (CNY for amounts, 1 for counts)"),
    "factor": (None, "systematic factor (macro.factors)"),
    "variance_source": (
        None,
        "source of the variance of attainment: credit_cycle (year_factor), parameters "
        "(parameter_value), book_replica (replica), defaults (the rest)",
    ),
    "parameter": (None, "uncertain parameter (dotted scenario key)"),
    "parameter_units": (None, "units of the parameter's values"),
    "parameter_group": (None, "group sharing the parameter's draw ('' for none)"),
    "parameter_drawn_per": (
        None,
        "path: drawn per path (state of the world); replica: drawn per book replica (the "
        "lenders' decision parameters), each path carrying its replica's draw",
    ),
    "parameter_centre": (
        "1",
        "the distribution's centre (units: parameter_units), what the lenders see; a drawn "
        "PD level / centre multiplies the segment's conditional PDs",
    ),
}


def annotate(ds: xr.Dataset) -> None:
    """Set ``units`` and ``long_name`` on every data variable and known coordinate."""
    # on the variables themselves (``ds[name]`` would build a DataArray with every
    # coordinate for each: a tenth of a second over a run's assembly)
    variables = ds.variables
    for var in ds.data_vars:
        units, long_name = VARIABLE_META[str(var)]
        variables[var].attrs.update(units=units, long_name=long_name)
    for coord, (coord_units, coord_long_name) in COORD_META.items():
        if coord in ds.coords:
            variables[coord].attrs.update(
                {"long_name": coord_long_name, **({"units": coord_units} if coord_units else {})}
            )


def scenario_yaml(scenario) -> str:
    """The scenario as the results store it (attribute ``scenario_yaml``)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), allow_unicode=True, sort_keys=False)


def build_dataset(
    scenario,
    arrays: dict,
    *,
    party: list[str],
    process_measures=None,
    seed: int,
    first_path: int = 0,
    version: str = "",
    path_weight: np.ndarray | None = None,
    stored_yaml: str | None = None,
) -> xr.Dataset:
    """The results Dataset for paths ``first_path ..`` of one simulation of ``scenario``.

    ``arrays`` maps each simulated variable to ``(dims, array)``, dims among ``path``,
    ``year``, ``segment``, ``party``; ``party`` names the party axis (the scenario's
    parties and :data:`UNABSORBED`). The arrays become the Dataset's data without a copy,
    and NaN is written into them for the kinds of party that do not have a variable
    (:data:`PARTY_VARIABLE_KINDS`), whatever they held there. ``process_measures`` are
    the institution processes' measures by book replica (dims ``replica``, ``year``,
    ``segment`` / ``party``), or None when lending came from volumes. ``path_weight`` is
    each path's likelihood ratio (importance sampling; 1 on every path when None).
    ``stored_yaml`` is the attribute ``scenario_yaml`` when given (the scenario with its
    distributions, already dumped: dumping takes 0.07 s), else ``scenario``'s dump.
    """
    n_paths = next(a.shape[dims.index("path")] for dims, a in arrays.values() if "path" in dims)
    coords = {
        "path": np.arange(first_path, first_path + n_paths),
        "year": np.array(scenario.years),
        "segment": list(scenario.segments),
        "party": list(party),
    }
    parties = [scenario.parties.get(name) for name in party]  # None for unabsorbed
    kinds = [UNABSORBED if p is None else p.kind for p in parties]
    variables = {
        name: (dims, _nan_where_absent(name, dims, a, kinds)) for name, (dims, a) in arrays.items()
    }
    ds = xr.Dataset(variables, coords=coords)
    # the metrics weigh every path by it (results.weights), the targets' probability below too
    weight = np.ones(n_paths) if path_weight is None else np.asarray(path_weight, np.float64)
    ds = ds.assign_coords(path_weight=("path", weight))
    public = np.array([bool(p is not None and p.public) for p in parties])
    ds["public_loss"] = ds["loss"].isel(party=np.flatnonzero(public)).sum("party")

    ds = ds.assign_coords(
        segment_label=("segment", [s.label for s in scenario.segments.values()]),
        segment_tags=("segment", [",".join(s.tags) for s in scenario.segments.values()]),
        segment_lgd=("segment", [s.lgd for s in scenario.segments.values()]),
        party_kind=("party", kinds),
        party_label=("party", ["未吸收" if p is None else p.label for p in parties]),
        party_public=("party", public.astype(np.int8)),
    )
    ds = _with_terms(ds, scenario, parties)
    ds = with_targets(ds, {n: t.model_dump() for n, t in scenario.targets.items()})
    if process_measures is not None:
        measures = process_measures.mean("replica")
        for name in PROCESS_VARIABLES:
            ds[name] = measures[name]
        lending_source, replicas = "processes", int(process_measures.sizes["replica"])
    else:
        lending_source, replicas = "volumes", 1
    # paths on one replica share its book: intervals cluster by it (results.intervals)
    ds = ds.assign_coords(replica=("path", ds.path.values % replicas))
    annotate(ds)
    ds.attrs.update(
        title=f"guarantee_sim results: {scenario.name}",
        scenario=scenario.name,
        scenario_label=scenario.label,
        scenario_description=scenario.description,
        sources=json.dumps(list(scenario.sources), ensure_ascii=False),
        value_sources=json.dumps(scenario.value_sources(), ensure_ascii=False),
        origination_years=int(scenario.horizon.origination_years),
        discount_rate=float(scenario.policy.discount_rate),
        scenario_yaml=scenario_yaml(scenario) if stored_yaml is None else stored_yaml,
        seed=int(seed),
        n_paths=int(n_paths),
        book_replicas=replicas,
        granularity=scenario.simulation.granularity,
        lending_source=lending_source,
        package_version=version,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        conventions="money in CNY; rates as decimals per year; counts in loans",
    )
    return ds


def _nan_where_absent(name: str, dims, array: np.ndarray, kinds: list[str]) -> np.ndarray:
    """``array``, NaN for the parties whose kind does not have variable ``name`` (written in
    place: the results of a large run are not copied; a read-only array is)."""
    has = PARTY_VARIABLE_KINDS.get(name)
    if has is None or "party" not in dims:
        return array
    absent = np.array([kind not in has for kind in kinds])
    if not absent.any():
        return array
    where: list = [slice(None)] * array.ndim
    where[list(dims).index("party")] = absent
    if not array.flags.writeable:
        array = array.copy()
    array[tuple(where)] = np.nan
    return array


def _with_terms(ds: xr.Dataset, scenario, parties: list) -> xr.Dataset:
    """The policy terms reports quote: parties' caps, schemes and who uses them; where a
    term changes by year, its value in the first year."""
    scenario = scenario.as_of(scenario.years[0])
    parties = [
        None if p is None else scenario.parties[n]
        for n, p in zip(ds.party.values, parties, strict=True)
    ]

    def cap(p, attr):
        value = None if p is None else getattr(p, attr, None)
        return np.nan if value is None else float(value)

    schemes = scenario.schemes
    split = np.array(
        [[s.split.get(str(p), 0.0) for p in ds.party.values] for s in schemes.values()],
        dtype=np.float64,
    ).reshape(len(schemes), ds.sizes["party"])
    ds = ds.assign_coords(
        party_leverage_cap=("party", [cap(p, "leverage_cap") for p in parties]),
        party_compensation_rate_cap=("party", [cap(p, "compensation_rate_cap") for p in parties]),
        scheme=list(schemes),
        scheme_label=("scheme", [s.label for s in schemes.values()]),
        scheme_coverage=("scheme", [float(s.coverage) for s in schemes.values()]),
        scheme_split=(("scheme", "party"), split),
        segment_scheme=("segment", [s.scheme for s in scenario.segments.values()]),
    )
    return ds


def target_coords(targets: Mapping[str, Mapping]) -> dict[str, Any]:
    """The ``target`` coordinate and the coordinates describing each target (label,
    metric, kind, tags, years, value), as :func:`with_targets` assigns them."""
    specs = list(targets.values())

    def column(key, dtype, convert=lambda v: v):
        return ("target", np.array([convert(t[key]) for t in specs], dtype=dtype))

    def joined(tags):
        return tags if isinstance(tags, str) else ",".join(tags)

    return {
        "target": np.array(list(targets), dtype=object),
        "target_label": ("target", np.array([t.get("label", "") for t in specs], dtype=object)),
        "target_metric": column("metric", object),
        "target_kind": column("kind", object),
        "target_tags": (
            "target",
            np.array([joined(t.get("tags", [])) for t in specs], dtype=object),
        ),
        "target_from_year": column("from_year", np.int64, int),
        "target_to_year": column("to_year", np.int64, int),
        "target_value": column("value", np.float64, float),
    }


def with_targets(ds: xr.Dataset, targets: Mapping[str, Mapping]) -> xr.Dataset:
    """``ds`` with the plan's targets described in coordinates and their attainment.

    ``targets`` maps each target's name to its ``metric``, ``kind``, ``tags`` (a list or a
    comma-separated string), ``from_year``, ``to_year``, ``value`` and optional ``label``, as
    a scenario's ``targets:`` section says them. Without targets the contract stays: an
    empty ``target`` dimension, typed coordinates and zero-length variables.
    """
    specs = list(targets.values())
    ds = ds.assign_coords(target_coords(targets))
    if specs:
        ds["target_attainment"] = target_attainment(ds)
    else:
        ds["target_attainment"] = (("path", "target"), np.empty((ds.sizes["path"], 0)))
    ds["target_probability"] = weighted_mean(ds["target_attainment"] >= 1.0)
    return ds


def with_parameters(
    ds: xr.Dataset,
    values: np.ndarray,
    *,
    keys: list[str],
    units: list[str],
    groups: list[str],
    centres: list[float],
    drawn_per: list[str] | None = None,
) -> xr.Dataset:
    """``ds`` with ``parameter_value`` (path, parameter): each path's draw of each uncertain
    parameter (``values[path, parameter]``), named by its dotted key; ``drawn_per`` says
    whether each was drawn per ``path`` (the default) or per book ``replica`` (a path then
    carries its replica's draw). Without uncertain parameters the contract stays: an empty
    ``parameter`` dimension."""
    drawn_per = ["path"] * len(keys) if drawn_per is None else drawn_per
    # text as str, not object: an empty object array would come back from a file as numbers
    ds = ds.assign_coords(
        parameter=np.array(keys, dtype=str),
        parameter_units=("parameter", np.array(units, dtype=str)),
        parameter_group=("parameter", np.array(groups, dtype=str)),
        parameter_centre=("parameter", np.array(centres, dtype=np.float64)),
        parameter_drawn_per=("parameter", np.array(drawn_per, dtype=str)),
    )
    ds["parameter_value"] = (("path", "parameter"), values.reshape(ds.sizes["path"], len(keys)))
    annotate(ds)
    return ds


def with_year_factors(ds: xr.Dataset, values: np.ndarray, *, names: list[str]) -> xr.Dataset:
    """``ds`` with ``year_factor`` (path, year, factor): the systematic factors the kernel
    drew for each path and year (``values[path, year, factor]``), one per ``macro.factors``
    name."""
    ds = ds.assign_coords(factor=np.array(names, dtype=str))
    ds["year_factor"] = (("path", "year", "factor"), values)
    annotate(ds)
    return ds


def with_variance_shares(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with the variance decomposition of each target's attainment over paths
    (:mod:`.decomposition`): ``attainment_variance`` (target) and
    ``attainment_variance_share`` (target, variance_source) and ``attainment_variance_note``
    (target), with the coordinate ``variance_source``. Computed once the paths, their
    year factors and parameters are all in ``ds``; a subset of paths is decomposed anew
    by ``ds.gs.attainment_variance_shares()``."""
    decomposition = attainment_variance_shares(ds)
    ds = ds.assign_coords(variance_source=decomposition.variance_source.values)
    for name in ("attainment_variance", "attainment_variance_share", "attainment_variance_note"):
        ds[name] = decomposition[name]
    annotate(ds)
    ds["attainment_variance_share"].attrs["method"] = METHOD
    return ds


#: what a run computes over its paths: a piece of a run (``simulate(first_path=)``) has
#: them of its own paths; :func:`with_path_summaries` makes them the whole run's
PATH_SUMMARIES = (
    "target_probability",
    "attainment_variance",
    "attainment_variance_share",
    "attainment_variance_note",
)


def with_path_summaries(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` (pieces of one run concatenated along ``path``) with what is computed over
    paths made anew, as ``simulate`` makes it for the whole run: ``target_probability``,
    the variance shares and the attr ``n_paths``."""
    ds = ds.drop_vars([n for n in PATH_SUMMARIES if n in ds])
    # laid out as metrics.target_attainment makes it (a column a target): a sum's rounding
    # follows the memory layout, and the variance over paths must be the run's bit for bit
    attainment = ds["target_attainment"].transpose("path", "target")
    ds["target_attainment"] = attainment.copy(data=np.asfortranarray(attainment.values))
    ds["target_probability"] = weighted_mean(ds["target_attainment"] >= 1.0)
    annotate(ds)
    ds.attrs["n_paths"] = int(ds.sizes["path"])
    return with_variance_shares(ds)
