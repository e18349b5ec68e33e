"""The processes' clock keeps Python floats (issue 10 §4: a replica's speed).

Service times reached the clock as NumPy scalars once (each applicant's row of a 2-D
array), and every event time, the clock and each area and wait computed from it were then
``np.float64``: the same values, several times slower per operation, which nothing else
would notice. Replica run on a small scenario with several visits and patience, so both
the first service and the later ones (queued, between visits) reach the clock.
"""

from __future__ import annotations

from conftest import make_scenario
from process_scenarios import process_dict

from guarantee_sim.processes import run_replica


def test_the_clock_and_the_queues_keep_python_floats():
    scenario = make_scenario(
        process_dict(
            visits=2, patience_days=2.0, officers=2, applications_per_year=2000, mean_days=0.3
        )
    )
    rep = run_replica(scenario, 3, 0)
    assert rep.officers is not None
    office = rep.officers.offices[0]
    assert rep.log is not None and len(rep.log.waits) > 0  # some waited, some were served
    assert type(office._env.now) is float
    assert type(office._last_time) is float
    assert type(office.queue_area[0]) is float
    assert type(office.busy_area[0]) is float
