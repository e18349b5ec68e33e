"""New loans: a month's lending booked, and each record's whole life drawn when it starts.

:func:`originate_records` takes the records of one origination month (or the initial
book) a chunk at a time:

1. the chunk's first Philox blocks (generation 0, this year) in one batch
   (``philox4x32_10_batch``: lanes across records, the rounds in registers);
2. :func:`_screen`: a record on the fast path (``Book.fast_window``: a booked single loan
   that cannot renew and lives in one calendar year) needs nothing more unless it
   defaults, which one branch-free pass over the chunk decides (its first word against its
   window's threshold); the defaults and every other record get the scalar screen: a
   segment admitted at share 0 lends nothing; a booked single loan that cannot renew over
   several years is checked window by window against raw words; the rest are pending, in
   order;
3. each pending record goes through :func:`_originate_record`, generation by generation
   (the loan, then each renewal): its lending joins the ledger
   (:func:`_book_generation`), its defaults are drawn window by window and booked
   (:func:`_default_windows`), survivors leave at maturity, and some renew
   (:func:`_renewed`) while new lending is still being made.

Counters come from the record's stable id, the renewal generation and the calendar year
(and a purpose tag), never from its position, so a record's draws do not depend on the
rest of the book. :func:`book_standard_lending` adds a month's standard lending in
aggregate, so a loan that neither defaults nor renews costs one Philox block and a compare.

When demand follows the credit cycle (``factors.demand_keep``), the book holds the lending
of the demand ceiling D_hi and :func:`thin_month` first decides how many loans of each of
the month's records the path keeps: Binomial(n_loans, keep) from the record's own DEMAND
stream (a kept single loan is a Bernoulli), then sums the month's thinned demand and
standard lending. A record's loans not kept are never lent, so they neither default nor
renew. Money is in CNY, time in months.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..philox import (
    GENERATION_SHIFT,
    binomial_from_uniform,
    jit,
    philox4x32_10,
    philox4x32_10_batch,
    u32_to_unit,
    u64_to_unit,
)
from .factors import PURPOSE_DEFAULT, PURPOSE_DEMAND, PURPOSE_SPLIT
from .layout import (
    BORROWERS,
    COHORT_LOANS_AMOUNT,
    COHORT_LOANS_COUNT,
    DEFAULT_AMOUNT,
    DEFAULTS_COUNT,
    LOANS_AMOUNT,
    LOANS_COUNT,
    NO_REFCOUNT,
)

# One generation of a record (the loan itself, or a renewal) while its life is drawn.
Generation = namedtuple(
    "Generation",
    [
        "id_lo",  # uint32 the record's stable id, low word
        "id_hi",  # uint32 high word
        "column",  # int64 the record's column in Scratch.words (its first Philox block)
        "gen",  # int64 renewal generation (0: the loan itself)
        "start",  # int64 month the generation starts
        "end",  # int64 month it matures (the first month it is no longer alive)
        "segment",  # int32
        "cohort",  # int32 segment of the record's first loan (its firms' cohort)
        "grade",  # int32
        "band",  # int64 term class x loan-size band (the tables' band axis)
        "term",  # int64 contract class (its terms: the origination year's, or the renewal's)
        "single",  # bool the record is one loan (a raw-word compare decides its default)
        "scale",  # float64 admitted share of the record
        "per_loan",  # float64 CNY per loan, by admitted share
        "sub_per_loan",  # float64 CNY per loan eligible for interest subsidy
        "booked",  # bool lending and maturity already booked with the month's aggregate
    ],
)


#: indices as unsigned integers: Numba adds no code for negative indices (Python's
#: wraparound) to an unsigned index, which the ledger's three-dimensional updates, made
#: per record, otherwise pay in every dimension
index = np.uint64


@jit(**NO_REFCOUNT)
def _join_balance(month, now, seg, band, amount, subsidised, ledger):
    """Schedule ``amount`` to join the balance at ``month`` (now if it is this month)."""
    m, s, b = index(month), index(seg), index(band)
    if month == now:
        ledger.balance[s, b] += amount
        ledger.subsidy_balance[s] += subsidised
    else:
        ledger.balance_change[m, s, b] += amount
        ledger.subsidy_change[m, s] += subsidised


@jit(**NO_REFCOUNT)
def _leave_balance(month, now, seg, band, amount, subsidised, ledger):
    """Schedule ``amount`` to leave the balance at ``month`` (now if it is this month)."""
    m, s, b = index(month), index(seg), index(band)
    ledger.released[m, s, b] += amount
    if month == now:
        ledger.balance[s, b] -= amount
        ledger.subsidy_balance[s] -= subsidised
    else:
        ledger.balance_change[m, s, b] -= amount
        ledger.subsidy_change[m, s] -= subsidised


#: a window's defaults up to this many get a month each from a digit of a 32-bit word, four
#: per word (a multinomial with equal cells, no CDF, no exp/log); more (a large cohort in a
#: bad year) are split by conditional binomials, whose cost does not grow with the count
SPLIT_DIRECT_LIMIT = 64


@jit(**NO_REFCOUNT)
def _split_over_months(count, n_months, id_lo, id_hi, gen_year, spare, draws, month_defaults):
    """Spread ``count`` defaults of a record over ``n_months`` months, each equally likely
    (Multinomial(count, 1 / n_months each)), adding to ``month_defaults[:n_months]``.

    ``spare`` (uint64) holds the window's own block's words 1 and 3, which a record of
    several loans does not otherwise use. Up to :data:`SPLIT_DIRECT_LIMIT` defaults: each
    default's month is a base-``n_months`` digit of a word, four per word, the words being
    ``spare``'s two and then the record's SPLIT stream (:func:`_months_one_by_one`). More:
    sequential conditional binomials, month j's from word j of the SPLIT stream. The
    SPLIT stream's block k is counter (id_lo, id_hi, gen_year, PURPOSE_SPLIT + 256 k).
    """
    if count <= 0:
        return
    if n_months == 1:
        month_defaults[0] += count
        return
    if count <= SPLIT_DIRECT_LIMIT:
        _months_one_by_one(count, n_months, id_lo, id_hi, gen_year, spare, draws, month_defaults)
    else:
        _months_by_binomials(count, n_months, id_lo, id_hi, gen_year, draws, month_defaults)


@jit(**NO_REFCOUNT)
def _months_one_by_one(count, n_months, id_lo, id_hi, gen_year, spare, draws, month_defaults):
    """Each of ``count`` defaults' month, four from each 32-bit word: the word's first
    four digits in base ``n_months`` (``x * n_months``: the high word is the digit, the low
    word the rest). The words: ``spare``'s low then high word, then the SPLIT stream's,
    16 defaults per Philox block.

    The four months of a word are ``floor(word * n_months**4 / 2**32)`` written in base
    ``n_months``: each of the ``n_months**4`` tuples has probability within a relative
    ``n_months**4 / 2**32`` (< 5e-6 for 12 months) of ``n_months**-4``.
    """
    span = np.uint64(n_months)
    low = np.uint64(0xFFFFFFFF)
    w0 = w1 = w2 = w3 = np.uint32(0)
    x = np.uint64(0)
    for i in range(count):
        if i % 4 == 0:  # a new word
            k = i // 4
            if k < 2:
                x = (spare >> np.uint64(32 * k)) & low
            else:
                lane = (k - 2) % 4
                if lane == 0:
                    w0, w1, w2, w3 = philox4x32_10(
                        id_lo,
                        id_hi,
                        gen_year,
                        PURPOSE_SPLIT + ((k - 2) // 4) * 256,
                        draws.seed,
                        draws.path,
                    )
                x = np.uint64(w0 if lane == 0 else w1 if lane == 1 else w2 if lane == 2 else w3)
        x *= span
        month_defaults[x >> np.uint64(32)] += 1
        x &= low


@jit(**NO_REFCOUNT)
def _months_by_binomials(count, n_months, id_lo, id_hi, gen_year, draws, month_defaults):
    """Sequential conditional binomials: month j gets Binomial(remaining, 1 / (n_months -
    j)), one uniform per month (word j % 4 of block j // 4); the last month the rest."""
    remaining = count
    w0 = w1 = w2 = w3 = np.uint32(0)
    for j in range(n_months):
        if remaining == 0:
            break
        if j == n_months - 1:
            month_defaults[j] += remaining
            break
        if j % 4 == 0:
            w0, w1, w2, w3 = philox4x32_10(
                id_lo, id_hi, gen_year, PURPOSE_SPLIT + (j // 4) * 256, draws.seed, draws.path
            )
        lane = j % 4
        word = w0 if lane == 0 else w1 if lane == 1 else w2 if lane == 2 else w3
        c = binomial_from_uniform(remaining, 1.0 / (n_months - j), u32_to_unit(word))
        month_defaults[j] += c
        remaining -= c


@jit(**NO_REFCOUNT)
def originate_records(
    first, last, is_new, now, shares, book, seg, settings, draws, ledger, scratch, out
):
    """Originate records ``first .. last-1`` this month and draw each one's whole life.

    ``shares[s]`` is the admitted share of segment s's new lending (1 for the initial book,
    ``is_new`` False). Steps in the module docstring.
    """
    words = scratch.words
    chunk = words[0].shape[0]
    for chunk_first in range(first, last, chunk):
        n_chunk = min(chunk, last - chunk_first)
        # every record's first Philox block (generation 0, this year), a chunk at a time
        philox4x32_10_batch(
            book.id_lo,
            book.id_hi,
            chunk_first,
            n_chunk,
            now // 12,
            PURPOSE_DEFAULT,
            draws.seed,
            draws.path,
            words[0],
            words[1],
            words[2],
            words[3],
        )
        n_pending = _screen(
            first, chunk_first, n_chunk, is_new, now, shares, book, seg, settings, draws, scratch
        )
        for i in range(n_pending):
            r = scratch.pending[i]
            column = r - chunk_first  # words[:, column] is this record's first Philox block
            at = index(r)
            scale = shares[index(book.segment[at])]
            if book.fast_window[at] >= 0:  # a fast-path loan that defaults
                _fast_default(r, column, now, scale, book, seg, settings, ledger, scratch, out)
            else:
                _originate_record(
                    r, column, is_new, now, scale, book, seg, settings, draws, ledger, scratch, out
                )


@jit(**NO_REFCOUNT)
def thin_month(first, last, now, book, draws, scratch):
    """How many loans of records ``first .. last-1`` (this month's new lending) the path
    keeps, into ``scratch.kept``, and the month's thinned demand and standard lending.

    Record r keeps Binomial(n_loans[r], keep[y, s]) loans, by inversion of a uniform from
    counter (id_lo, id_hi, 0, PURPOSE_DEMAND): a record is thinned once, when it is
    originated, so the draw depends only on the seed, the path and the record's id.
    """
    y = now // 12
    scratch.demand[:] = 0.0
    scratch.standard_count[:] = 0.0
    scratch.standard_amount[:] = 0.0
    scratch.standard_subsidised[:] = 0.0
    words = scratch.words
    chunk = words[0].shape[0]
    for chunk_first in range(first, last, chunk):
        n_chunk = min(chunk, last - chunk_first)
        philox4x32_10_batch(
            book.id_lo,
            book.id_hi,
            chunk_first,
            n_chunk,
            0,
            PURPOSE_DEMAND,
            draws.seed,
            draws.path,
            words[0],
            words[1],
            words[2],
            words[3],
        )
        for i in range(n_chunk):
            r = chunk_first + i
            at = index(r)
            s = index(book.segment[at])
            kept = binomial_from_uniform(
                book.n_loans[at],
                draws.keep[index(y), s],
                u64_to_unit(words[0, i], words[1, i]),
            )
            scratch.kept[index(r - first)] = kept
            amount = kept * book.amount[at]
            band = index(book.band[at])
            scratch.demand[s, band] += amount
            if book.standard[at]:
                scratch.standard_count[s] += kept
                scratch.standard_amount[s, band] += amount
                scratch.standard_subsidised[s] += kept * book.subsidised[at]


@jit(**NO_REFCOUNT)
def mark_fast_windows(book, seg, settings):
    """Set ``book.fast_window``: for a record on the fast path, the flat index of its one
    default window in ``Draws.window_threshold`` (segment, grade, year, months - 1); -1
    for the others.

    The fast path: a standard record (its lending and maturity booked with its month's
    aggregate) of one loan that cannot renew (it matures after new lending has stopped, or
    its segment does not renew) and whose life lies in one calendar year, so one Philox
    block and one compare decide everything unless it defaults. It depends on the book,
    the segments' renewal rates and the horizon only, not on the path.
    """
    n_grade = seg.pd_inverse.shape[1]
    for r in range(book.fast_window.shape[0]):
        book.fast_window[r] = -1
        s = book.segment[r]
        start = np.int64(book.month[r])
        end = start + book.tenor[r]
        year = start // 12
        if (
            book.standard[r]
            and book.n_loans[r] == 1
            and end <= 12 * (year + 1)
            and (end >= settings.origination_months or seg.renew_rate[s] <= 0.0)
        ):
            cell = (s * n_grade + book.grade[r]) * settings.n_years + year
            book.fast_window[r] = cell * 12 + end - start - 1


@jit(**NO_REFCOUNT)
def _screen(first, chunk_first, n_chunk, is_new, now, shares, book, seg, settings, draws, scratch):
    """The chunk's records that need the general path, in order, into ``scratch.pending``,
    and the loans each starts with on this path into ``scratch.loans``.

    First one branch-free pass over the chunk keeps the records that are not on the fast
    path (``Book.fast_window`` -1) and the fast ones whose first word falls below their
    window's threshold (they default); the rest of the fast path survives and needs nothing
    more. Then the kept records one by one: a segment admitted at share 0 lends nothing,
    nor does a record none of whose loans the path keeps; a booked single loan that cannot
    renew is checked window by window against raw words (the first window's from
    ``scratch.words``); if it defaults, the general path draws the same words. Returns the
    number of pending records.
    """
    this_year = now // 12
    words = scratch.words
    pending = scratch.pending
    window_threshold = draws.window_threshold
    n_kept = 0
    for i in range(n_chunk):
        w = book.fast_window[index(chunk_first + i)]
        pending[n_kept] = i
        n_kept += np.int64((w < 0) | (words[0, i] < window_threshold[index(max(w, 0))]))
    thinned = is_new and scratch.kept.shape[0] > 0
    n_pending = 0
    for k in range(n_kept):  # pending[k] is read before pending[n_pending <= k] is written
        i = pending[k]
        r = chunk_first + i
        at = index(r)
        s = book.segment[at]
        # the loans the record starts with on this path: its kept loans when new lending
        # is thinned, else its own count
        loans = scratch.kept[index(r - first)] if thinned else book.n_loans[at]
        scratch.loans[index(i)] = loans
        if shares[index(s)] <= 0.0 or loans == 0:
            continue  # nothing admitted, or no loan of the record kept on this path
        end = now + book.tenor[at]
        if (
            is_new
            and book.standard[at]
            and book.n_loans[at] == 1
            and (end >= settings.origination_months or seg.renew_rate[s] <= 0.0)
        ):
            g = book.grade[at]
            t = min(end, 12 * (this_year + 1))  # the first window is this year's
            survives = words[0, i] >= draws.threshold[s, g, this_year, t - now - 1]
            while survives and t < end:
                y = t // 12
                window = min(end, 12 * (y + 1)) - t
                w0, _, _, _ = philox4x32_10(
                    book.id_lo[at], book.id_hi[at], y, PURPOSE_DEFAULT, draws.seed, draws.path
                )
                survives = w0 >= draws.threshold[s, g, y, window - 1]
                t += window
            if survives:
                continue
        pending[n_pending] = r
        n_pending += 1
    return n_pending


@jit(**NO_REFCOUNT)
def _fast_default(r, column, now, scale, book, seg, settings, ledger, scratch, out):
    """Book the default of record ``r``, a fast-path loan (``Book.fast_window``) whose first
    word fell below its threshold: what :func:`_originate_record` books for it (the same
    operations in the same order, so the same numbers) without its per-generation calls,
    which pass every bundle and cost more than the rest of the record's work.

    Its month in the one window (its whole life) comes from the second word; the loan
    leaves the balance at default and no longer with its month's maturities.
    """
    s = book.segment[r]
    end = now + book.tenor[r]
    band = np.int64(book.band[r])
    term = band // settings.n_size_bands
    per_loan = book.amount[r] * scale
    sub_per_loan = book.subsidised[r] * scale * seg.subsidy_eligible[s]
    month = (np.uint64(scratch.words[1, column]) * np.uint64(end - now)) >> np.uint64(32)
    d = now + np.int64(month)
    default_month, year, segment = index(d), index(d // 12), index(s)
    ledger.default_amount[default_month, segment, index(term)] += per_loan
    ledger.default_count[default_month, segment] += scale
    out.segment[DEFAULTS_COUNT, year, segment] += scale
    out.segment[DEFAULT_AMOUNT, year, segment] += per_loan
    _leave_balance(d, now, s, band, per_loan, sub_per_loan, ledger)
    matures, b = index(end), index(band)
    ledger.balance_change[matures, segment, b] += per_loan
    ledger.subsidy_change[matures, segment] += sub_per_loan
    ledger.released[matures, segment, b] -= per_loan


@jit(**NO_REFCOUNT)
def _originate_record(
    r, column, is_new, now, scale, book, seg, settings, draws, ledger, scratch, out
):
    """Record ``r``'s whole life at admitted share ``scale``, generation by generation."""
    at = index(r)
    s = book.segment[at]
    g = book.grade[at]
    per_loan = book.amount[at] * scale
    alive = scratch.loans[index(column)]
    start = now
    tenor = book.tenor[at]
    gen = 0
    # a standard record's lending and maturity were booked with its month's aggregate
    booked = is_new and book.standard[at]
    n_size = settings.n_size_bands
    band = np.int64(book.band[at])
    sub_per_loan = book.subsidised[at] * scale * seg.subsidy_eligible[index(s)]
    while True:
        life = Generation(
            book.id_lo[at],
            book.id_hi[at],
            column,
            gen,
            start,
            start + tenor,
            s,
            book.segment[at],
            g,
            band,
            band // n_size,
            book.n_loans[at] == 1,
            scale,
            per_loan,
            sub_per_loan,
            booked,
        )
        if not booked:
            _book_generation(life, alive, is_new, now, ledger, out)
        alive, renew_word = _default_windows(life, alive, now, draws, ledger, scratch, out)
        if alive == 0:
            break
        if not booked:
            _leave_balance(
                life.end,
                now,
                s,
                life.band,
                alive * per_loan,
                alive * life.sub_per_loan,
                ledger,
            )
        booked = False
        renewed = _renewed(life, alive, renew_word, seg, settings)
        if renewed == 0:
            break
        g = seg.renew_grade[min(gen, 1), s, g]  # the first renewal may season the PD
        s = seg.renew_into[s]
        tenor = seg.tenor[s]
        alive = renewed
        start = life.end
        gen += 1
        # a renewal is a new contract: the terms of its renewal year
        year = start // 12
        band = settings.term_class[year] * n_size + book.band[at] % n_size
        sub_per_loan = min(book.amount[at], settings.subsidy_cap[year]) * scale
        sub_per_loan *= seg.subsidy_eligible[s]


@jit(**NO_REFCOUNT)
def _book_generation(life, alive, is_new, now, ledger, out):
    """A generation's lending: counted in its start year, joining the balance at its start.

    Counted twice: in the segment it is booked in, and in its firms' cohort (the segment of
    their first loan), so a renewal booked ``into`` another segment still counts for them.
    """
    s = index(life.segment)
    if is_new or life.gen > 0:
        y0 = index(life.start // 12)
        cohort = index(life.cohort)
        out.segment[LOANS_COUNT, y0, s] += alive * life.scale
        out.segment[LOANS_AMOUNT, y0, s] += alive * life.per_loan
        out.segment[COHORT_LOANS_COUNT, y0, cohort] += alive * life.scale
        out.segment[COHORT_LOANS_AMOUNT, y0, cohort] += alive * life.per_loan
        if life.gen == 0:
            out.segment[BORROWERS, y0, s] += alive * life.scale
    _join_balance(
        life.start,
        now,
        life.segment,
        life.band,
        alive * life.per_loan,
        alive * life.sub_per_loan,
        ledger,
    )


@jit(**NO_REFCOUNT)
def _default_windows(life, alive, now, draws, ledger, scratch, out):
    """Draw and book a generation's defaults, one Philox block per calendar-year window.

    Returns the loans still alive at maturity and the last window's renewal word.
    """
    renew_word = np.uint32(0)
    t = life.start
    while t < life.end and alive > 0:
        y = t // 12
        window = min(life.end, 12 * (y + 1)) - t
        gen_year = (life.gen << GENERATION_SHIFT) | y
        if life.gen == 0 and y == now // 12:
            words = scratch.words
            column = index(life.column)
            w0, w1 = words[0, column], words[1, column]
            w2, w3 = words[2, column], words[3, column]
        else:
            w0, w1, w2, w3 = philox4x32_10(
                life.id_lo, life.id_hi, gen_year, PURPOSE_DEFAULT, draws.seed, draws.path
            )
        renew_word = w2
        if _window_defaults(life, alive, y, window, gen_year, w0, w1, w3, draws, scratch):
            alive -= _book_defaults(life, t, window, now, ledger, scratch, out)
        t += window
    return alive, renew_word


@jit(**NO_REFCOUNT)
def _window_defaults(life, alive, y, window, gen_year, w0, w1, w3, draws, scratch):
    """Defaults of the ``alive`` loans in each month of a window, into month_defaults.

    A single loan: one raw-word compare, no CDF, no allocation (False if it survives); its
    month from the second word. Several loans: a binomial count split over the months
    (False if it is 0).
    """
    cell = (index(life.segment), index(life.grade), index(y), index(window - 1))
    month_defaults = scratch.month_defaults
    if life.single:
        # the common case: one raw-word comparison, no CDF, no allocation
        if w0 >= draws.threshold[cell]:
            return False
        for j in range(window):
            month_defaults[j] = 0
        month_defaults[(np.uint64(w1) * np.uint64(window)) >> np.uint64(32)] = 1
        return True
    for j in range(window):
        month_defaults[j] = 0
    n_defaults = binomial_from_uniform(alive, draws.probability[cell], u32_to_unit(w0))
    if n_defaults == 0:
        return False
    spare = np.uint64(w1) | (np.uint64(w3) << np.uint64(32))  # words the count leaves
    _split_over_months(
        n_defaults, window, life.id_lo, life.id_hi, gen_year, spare, draws, month_defaults
    )
    return True


@jit(**NO_REFCOUNT)
def _book_defaults(life, t, window, now, ledger, scratch, out):
    """Book the window's defaults (from month ``t``): counts, amounts, leaving the balance.

    Returns the number of loans that defaulted.
    """
    s = index(life.segment)
    b = index(life.band)
    end = index(life.end)
    term = index(life.term)
    defaulted = 0
    for j in range(window):
        c = scratch.month_defaults[j]
        if c == 0:
            continue
        d = t + j
        month, year = index(d), index(d // 12)
        amount = c * life.per_loan
        ledger.default_amount[month, s, term] += amount
        ledger.default_count[month, s] += c * life.scale
        out.segment[DEFAULTS_COUNT, year, s] += c * life.scale
        out.segment[DEFAULT_AMOUNT, year, s] += amount
        _leave_balance(d, now, life.segment, life.band, amount, c * life.sub_per_loan, ledger)
        if life.booked:  # it leaves at default, not with its month's maturities
            ledger.balance_change[end, s, b] += amount
            ledger.subsidy_change[end, s] += c * life.sub_per_loan
            ledger.released[end, s, b] -= amount
        defaulted += c
    return defaulted


@jit(**NO_REFCOUNT)
def _renewed(life, alive, renew_word, seg, settings):
    """How many of the ``alive`` loans renew at maturity (0 once new lending has stopped)."""
    rate = seg.renew_rate[life.segment]
    if life.end >= settings.origination_months or rate <= 0.0:
        return 0
    if life.single:
        return 1 if u32_to_unit(renew_word) < rate else 0
    return binomial_from_uniform(alive, rate, u32_to_unit(renew_word))


@jit(**NO_REFCOUNT)
def book_standard_lending(counts, amounts, subsidised_amounts, now, seg, admitted, ledger, out):
    """Add this month's standard lending and schedule its maturity, segment by segment.

    ``counts[s]`` loans, ``amounts[s, b]`` CNY and ``subsidised_amounts[s]`` CNY eligible
    for interest subsidy, before the admitted shares: the book's month aggregates, or the
    path's thinned ones (:func:`thin_month`).
    """
    y = now // 12
    n_seg, n_band = ledger.balance.shape
    for s in range(n_seg):
        share = admitted[s]
        count = counts[s] * share
        if count <= 0.0:
            continue
        end = now + seg.tenor[s]
        out.segment[LOANS_COUNT, y, s] += count
        out.segment[BORROWERS, y, s] += count
        out.segment[COHORT_LOANS_COUNT, y, s] += count  # first loans: their own cohort
        for b in range(n_band):
            amount = amounts[s, b] * share
            out.segment[LOANS_AMOUNT, y, s] += amount
            out.segment[COHORT_LOANS_AMOUNT, y, s] += amount
            ledger.balance[s, b] += amount
            ledger.balance_change[end, s, b] -= amount
            ledger.released[end, s, b] += amount
        subsidised = subsidised_amounts[s] * share * seg.subsidy_eligible[s]
        ledger.subsidy_balance[s] += subsidised
        ledger.subsidy_change[end, s] -= subsidised
