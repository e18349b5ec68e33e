"""Applicant attributes from counter-based streams keyed by stable applicant ids.

Applicant k of segment s arriving in month m of replica r has the stable id of loan k of
month m, with the process flag (:func:`guarantee_sim.book.pack_id`); everything about it
(arrival time, true PD, amount, score noise, patience, service times) comes from Philox
blocks with counter (segment hash, id_lo, purpose, index) under a key of the processes'
own (seed, PROCESS_KEY + r), so changing one applicant's
decision, or adding applicants to another segment, leaves every other applicant's
draws unchanged.
"""

from __future__ import annotations

import numpy as np

from ..book import MONTH_SHIFT, NUMBER_MASK
from ..kernels.factors import PURPOSE_REPLICA_PARAMETER
from ..kernels.parameters import PARAMETER_STREAM_ID
from ..philox import jit, normal_pair, philox4x32_10, u32_to_unit, u64_to_unit

PROCESS_KEY = 0x50524F43  # "PROC": a key word of its own, never a path index
ARRIVALS, PROFILE, SERVICE = 1, 2, 3
MAX_VISITS = 16


@jit()
def applicant_draws(seed, replica, segment_hash, month, count, out):
    """Fill ``out[k, :]`` for applicants k < count with their standard draws.

    Columns: 0 arrival offset in the month (0..1), 1 standard normal for the true PD,
    2 standard normal for the amount, 3 bank score noise, 4 guarantor score noise,
    5 uniform for patience, then MAX_VISITS standard normals/uniforms for service times
    (uniforms in (0, 1) used by inversion). A bank needs at most 10 visits, so the last two
    columns, never a service time, are the uniforms choosing the applicant's bank office
    (:data:`BANK_OFFICE`) and review office (:data:`REVIEW_OFFICE`).
    """
    key = (np.uint32(seed), np.uint32(PROCESS_KEY + replica))
    for k in range(count):
        c1 = (month << MONTH_SHIFT) | k  # the applicant's id_lo
        w0, w1, _, _ = philox4x32_10(segment_hash, c1, ARRIVALS, 0, key[0], key[1])
        out[k, 0] = u32_to_unit(w0)
        out[k, 5] = u32_to_unit(w1)
        a, b, c, d = philox4x32_10(segment_hash, c1, PROFILE, 0, key[0], key[1])
        z0, z1 = normal_pair(a, b, c, d)
        out[k, 1] = z0
        out[k, 2] = z1
        a, b, c, d = philox4x32_10(segment_hash, c1, PROFILE, 1, key[0], key[1])
        z0, z1 = normal_pair(a, b, c, d)
        out[k, 3] = z0
        out[k, 4] = z1
        for v in range(0, MAX_VISITS, 4):
            a, b, c, d = philox4x32_10(segment_hash, c1, SERVICE, v, key[0], key[1])
            out[k, 6 + v] = u32_to_unit(a)
            out[k, 7 + v] = u32_to_unit(b)
            out[k, 8 + v] = u32_to_unit(c)
            out[k, 9 + v] = u32_to_unit(d)


@jit()
def monthly_uniform(seed, replica, segment_hash, month, purpose):
    """One uniform for a (segment, month) decision, e.g. the Poisson count of arrivals.

    Its counter is the id_lo of number NUMBER_MASK, which no applicant has (fewer than
    NUMBER_LIMIT arrive in a month).
    """
    w0, _, _, _ = philox4x32_10(
        segment_hash,
        (month << MONTH_SHIFT) | NUMBER_MASK,
        ARRIVALS,
        purpose,
        np.uint32(seed),
        np.uint32(PROCESS_KEY + replica),
    )
    return u32_to_unit(w0)


@jit()
def replica_parameter_uniforms(seed, replicas, streams, out):
    """``out[r, j]``: the uniform of stream ``streams[j]`` (the hash of a decision
    parameter's key or group) on book replica ``r < replicas``.

    Key ``(seed, PROCESS_KEY + r)``, the replica's own; counter ``(stream,
    PARAMETER_STREAM_ID, 0, PURPOSE_REPLICA_PARAMETER)``: no applicant draw has a counter
    word 2 of 0, and the purpose is no other draw's, so the uniform depends on the seed, the
    replica and the name only (the same in every variant: common random numbers).
    """
    for r in range(replicas):
        for j in range(streams.shape[0]):
            w0, w1, _, _ = philox4x32_10(
                streams[j],
                PARAMETER_STREAM_ID,
                0,
                PURPOSE_REPLICA_PARAMETER,
                np.uint32(seed),
                np.uint32(PROCESS_KEY + r),
            )
            out[r, j] = u64_to_unit(w0, w1)


N_COLUMNS = 6 + MAX_VISITS
BANK_OFFICE, REVIEW_OFFICE = N_COLUMNS - 2, N_COLUMNS - 1
