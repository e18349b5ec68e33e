"""The key of the institution processes' books: a hash of everything they read.

A sweep runs many designs of one scenario; the processes (minutes for a city at record
weight 1) need to run again only when something they read changes. They read (checked in
``run.py``, ``decisions.py``, ``institutions.py``, ``workers.py`` and
``config/limits.all_in_price``):

* the ``processes`` section, every segment (demand, PD, loan size, tenor, renewal, scheme,
  tags), every scheme (coverage and split by year: what the bank keeps and the guarantor
  shares drives approvals), the horizon and ``macro.demand_elasticity``;
* of the parties: each one's kind; the reviewing guarantor's fee (``fee_rate`` /
  ``fee_bands``) and ``operating_cost_rate``; each re-guarantor's ``fee_rate``;
* of the policy: ``fee_subsidy``, ``interest_subsidy`` and ``lpr`` (the borrower's all-in
  price, and the guarantor's income);
* the seed, and the volume-fed segments' book (the claims office's workload), by its bytes.

Not read, so not in the key: pools (size, contributions, caps, circuit breakers), the
guarantors' capital, leverage caps, liability weights, reserves, capital injections and
fallbacks, re-guarantors' capital and caps, the targets, the discount rate, the fee cap
(a validation rule), labels and the simulation settings. A design that changes only those
reuses the books (``tests/test_sweep_books.py`` checks a pool's contribution does and a
fee does not, and that the books are the same).

The key also holds a hash of the code the books come from (this package's processes,
book, configuration and limits modules) and the package version, so a cache never serves
books an older model made.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..book import LoanBook
from ..config.schema import Scenario

PACKAGE = Path(__file__).resolve().parent.parent
#: the code that makes the books: an edit to any of these files changes every key
BOOK_SOURCES = (
    "processes/*.py",
    "book.py",
    "philox.py",
    "config/schema.py",
    "config/limits.py",
    "config/values.py",
)
#: what the processes read of a guarantor and a re-guarantor
GUARANTOR_FIELDS = ("kind", "fee_rate", "fee_bands", "operating_cost_rate")
REGUARANTOR_FIELDS = ("kind", "fee_rate")
POLICY_FIELDS = ("fee_subsidy", "interest_subsidy", "lpr")


def read_by_processes(scenario: Scenario) -> dict[str, Any]:
    """The parts of ``scenario`` the institution processes read, as JSON-able values."""
    dump = scenario.model_dump(mode="json")
    parties = {}
    for name, party in dump["parties"].items():
        kind = party["kind"]
        fields = {"guarantor": GUARANTOR_FIELDS, "reguarantor": REGUARANTOR_FIELDS}.get(
            kind, ("kind",)
        )
        parties[name] = {f: party.get(f) for f in fields}
    return {
        "processes": dump.get("processes"),
        "segments": dump["segments"],
        "schemes": dump["schemes"],
        "horizon": dump["horizon"],
        "demand_elasticity": dump["macro"]["demand_elasticity"],
        "parties": parties,
        "policy": {f: dump["policy"].get(f) for f in POLICY_FIELDS},
        "lending_source": dump.get("lending_source"),
    }


def books_key(
    scenario: Scenario,
    seed: int,
    other_book: LoanBook | None = None,
    replica_scenarios: list[Scenario] | None = None,
) -> str:
    """Hex SHA-256 of what ``run_processes(scenario, seed, other_book, replica_scenarios)``
    reads: equal keys, equal books."""
    digest = hashlib.sha256()
    parts = {
        "code": source_hash(),
        "seed": int(seed),
        "scenario": read_by_processes(scenario),
        "replicas": [read_by_processes(s) for s in replica_scenarios or []],
    }
    digest.update(json.dumps(parts, sort_keys=True, default=str).encode())
    if other_book is not None:
        for name in LoanBook.__dataclass_fields__:
            array = getattr(other_book, name)
            digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


_source: dict[str, str] = {}


def source_hash() -> str:
    """Hash of :data:`BOOK_SOURCES` and the package version (once per process)."""
    if "hash" not in _source:
        from .._version import __version__

        digest = hashlib.sha256(__version__.encode())
        for pattern in BOOK_SOURCES:
            for path in sorted(PACKAGE.glob(pattern)):
                digest.update(path.relative_to(PACKAGE).as_posix().encode())
                digest.update(path.read_bytes())
        _source["hash"] = digest.hexdigest()
    return _source["hash"]
