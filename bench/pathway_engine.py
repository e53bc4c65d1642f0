"""Benchmark of the pure pathway engines on generated candidates.

    python bench/pathway_engine.py            # 2,000 candidates for the per-candidate figures, 10,000 for the cohort
    python bench/pathway_engine.py --quick    # 300 and 2,000

Prints:
  * per candidate, next step + readiness + screening of a 40-program list: median and p95 (ms) and candidates/s,
    against the target (median <= 1 ms);
  * each engine alone (median, ms), so a regression points at its engine;
  * the cohort summary over 10,000 candidates: total seconds and rows/s, against the target (< 10 s).

Candidates are generated with a seeded RNG across the whole road: students with nothing done, graduates part-way
through the exams, OET and Pathway, certified applicants, some with failed attempts, broken exam windows or H-1B
needs, each with hands-on and observer USCE and a 40-program list whose filters are drawn at random.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.pathway import (  # noqa: E402
    CandidateFacts,
    ListEntryFact,
    MilestoneFact,
    OetScores,
    ProgramFact,
    UsceFact,
    cohort_summary,
    load_rulebook,
    next_step,
    readiness,
    screen,
)

AS_OF = date(2026, 11, 25)
CYCLE = 2027
PROGRAMS_PER_LIST = 40
TARGET_MEDIAN_MS = 1.0
TARGET_COHORT_S = 10.0
SPECIALTIES = ("internal_medicine", "family_medicine", "pediatrics", "psychiatry", "neurology", "pathology")


def _maybe(rng: random.Random, p: float, value: object) -> object:
    return value if rng.random() < p else None


def make_program(rng: random.Random, i: int) -> ProgramFact:
    return ProgramFact(
        program_id=f"p{i:05d}",
        name=f"Program {i:05d}",
        specialty=rng.choice(SPECIALTIES),
        track=rng.choice(("categorical", "categorical", "preliminary", "transitional")),
        state=rng.choice(("NY", "NJ", "PA", "OH", "MI", "TX", "FL", None)),
        sponsors_j1=rng.choice((True, True, False, None)),
        sponsors_h1b=rng.choice((True, False, False, None)),
        max_years_since_graduation=_maybe(rng, 0.5, rng.choice((3, 5, 7, 10))),  # type: ignore[arg-type]
        min_step2ck=_maybe(rng, 0.4, rng.randrange(215, 245, 5)),  # type: ignore[arg-type]
        first_attempt_only=_maybe(rng, 0.4, rng.random() < 0.6),  # type: ignore[arg-type]
        max_attempts=_maybe(rng, 0.2, rng.choice((1, 2))),  # type: ignore[arg-type]
        usce_required=_maybe(rng, 0.5, rng.random() < 0.7),  # type: ignore[arg-type]
        usce_min_weeks=_maybe(rng, 0.3, rng.choice((4, 8, 12))),  # type: ignore[arg-type]
        usce_hands_on_only=_maybe(rng, 0.3, rng.random() < 0.5),  # type: ignore[arg-type]
        usce_recency_months=_maybe(rng, 0.3, rng.choice((12, 24))),  # type: ignore[arg-type]
        min_letters=_maybe(rng, 0.4, rng.choice((3, 4))),  # type: ignore[arg-type]
        ecfmg_cert_required_by=_maybe(rng, 0.3, rng.choice(("application", "rank_deadline", "start"))),  # type: ignore[arg-type]
        step3_required_by=_maybe(rng, 0.2, rng.choice(("application", "rank_deadline", "match_day"))),  # type: ignore[arg-type]
    )


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange(max(1, (end - start).days)))


def make_candidate(rng: random.Random, programs: list[ProgramFact]) -> CandidateFacts:
    stage = rng.randrange(6)  # 0 student .. 5 certified and applied
    grad = _day(rng, date(2012, 1, 1), date(2029, 7, 1)) if stage == 0 else _day(rng, date(2012, 1, 1),
                                                                                   date(2026, 7, 1))
    ms: list[MilestoneFact] = []
    if stage >= 1:
        ms.append(MilestoneFact("usmle_id_registered", "completed", completed_on=_day(rng, date(2020, 1, 1), AS_OF)))
        for attempt in range(1, rng.choice((1, 1, 1, 2, 3, 4)) if rng.random() < 0.3 else 1):
            ms.append(MilestoneFact("usmle_step1", "failed", attempt=attempt,
                                    completed_on=_day(rng, date(2018, 1, 1), date(2024, 1, 1))))
        ms.append(MilestoneFact("usmle_step1", "passed", completed_on=_day(rng, date(2016, 1, 1), AS_OF)))
    if stage >= 2:
        ms.append(MilestoneFact("usmle_step2ck", "passed", completed_on=_day(rng, date(2019, 1, 1), AS_OF),
                                score=rng.randrange(214, 270)))
    elif stage == 1 and rng.random() < 0.5:
        ms.append(MilestoneFact("usmle_step2ck", "scheduled", scheduled_on=_day(rng, AS_OF, date(2027, 4, 1))))
    if stage >= 3:
        scores = OetScores(*(rng.randrange(290, 450, 10) for _ in range(4)))
        ms.append(MilestoneFact("oet_medicine", "passed", completed_on=_day(rng, date(2023, 1, 1), AS_OF),
                                oet=scores))
    if stage >= 4:
        ms.append(MilestoneFact("ecfmg_pathway", "completed", completed_on=_day(rng, date(2024, 1, 1), AS_OF),
                                pathway=str(rng.randrange(1, 7))))
        ms.append(MilestoneFact("credentials_verified", "completed", completed_on=_day(rng, date(2024, 1, 1), AS_OF)))
    if stage >= 5:
        ms.append(MilestoneFact("ecfmg_certification", "completed", completed_on=_day(rng, date(2025, 1, 1), AS_OF)))
        ms.append(MilestoneFact("eras_application", "completed", completed_on=date(2026, 9, 2)))
        ms.append(MilestoneFact("nrmp_registration", "completed", completed_on=date(2026, 9, 20)))
        if rng.random() < 0.2:
            ms.append(MilestoneFact("usmle_step3", "passed", completed_on=_day(rng, date(2025, 6, 1), AS_OF),
                                    score=rng.randrange(200, 250)))
    if rng.random() < 0.1:
        ms.append(MilestoneFact("usmle_step2cs", "passed", completed_on=date(2019, 10, 1)))
    usce = []
    for _ in range(rng.randrange(0, 4)):
        start = _day(rng, date(2023, 1, 1), date(2026, 9, 1))
        usce.append(UsceFact(rng.choice(("elective", "externship", "observership", "sub_internship")),
                             rng.random() < 0.7, rng.choice(SPECIALTIES), start,
                             start + timedelta(weeks=rng.choice((2, 4, 6, 8))) - timedelta(days=1), rng.random() < 0.6))
    chosen = rng.sample(programs, PROGRAMS_PER_LIST)
    ranked = rng.random() < 0.3
    entries = tuple(ListEntryFact(p, rng.choice(("considering", "applied", "interview", "withdrawn")), None,
                                  i + 1 if ranked else None, "list-1") for i, p in enumerate(chosen))
    visa = rng.choice(("j1", "j1", "h1b", "either"))
    us_status = rng.choice(("none", "none", "none", "citizen", "permanent_resident"))
    if us_status != "none":
        visa = "none"
    return CandidateFacts(us_status=us_status, graduation_on=grad, target_specialties=(rng.choice(SPECIALTIES),),
                          target_match_year=rng.choice((2027, 2027, 2028, 2029)), visa_need=visa,
                          milestones=tuple(ms), usce=tuple(usce), entries=entries)


def population(n: int, seed: int) -> list[CandidateFacts]:
    rng = random.Random(seed)
    programs = [make_program(rng, i) for i in range(400)]
    return [make_candidate(rng, programs) for _ in range(n)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def time_each(candidates: list[CandidateFacts], fn: Callable[[CandidateFacts], object]) -> list[float]:
    out = []
    clock = time.perf_counter
    for facts in candidates:
        t0 = clock()
        fn(facts)
        out.append((clock() - t0) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, cohort_n = (300, 2_000) if args.quick else (2_000, 10_000)
    book = load_rulebook()
    candidates = population(n, seed=7)
    for facts in candidates[:50]:  # warm caches (catalogue, rule book, bytecode)
        next_step(facts, book, CYCLE, AS_OF)
        readiness(facts, book, CYCLE, AS_OF)
        screen(facts, facts.entries, book, CYCLE, AS_OF)

    def combined(facts: CandidateFacts) -> None:
        next_step(facts, book, CYCLE, AS_OF)
        readiness(facts, book, CYCLE, AS_OF)
        screen(facts, facts.entries, book, CYCLE, AS_OF)

    gc.collect()
    per = time_each(candidates, combined)
    median, p95 = statistics.median(per), _percentile(per, 0.95)
    print(f"pathway engines, {n} generated candidates, {PROGRAMS_PER_LIST} programs each, cycle {CYCLE}, "
          f"as_of {AS_OF}")
    print(f"  next step + readiness + screening: median {median:.3f} ms, p95 {p95:.3f} ms, "
          f"{1000 / statistics.fmean(per):,.0f} candidates/s   (target median <= {TARGET_MEDIAN_MS} ms: "
          f"{'met' if median <= TARGET_MEDIAN_MS else 'NOT met'})")
    for name, fn in (
        ("next_step", lambda f: next_step(f, book, CYCLE, AS_OF)),
        ("readiness", lambda f: readiness(f, book, CYCLE, AS_OF)),
        ("screen (40 programs)", lambda f: screen(f, f.entries, book, CYCLE, AS_OF)),
        ("cohort_summary", lambda f: cohort_summary(f, book, CYCLE, AS_OF)),
    ):
        times = time_each(candidates, fn)
        print(f"  {name:<22} median {statistics.median(times):.3f} ms, p95 {_percentile(times, 0.95):.3f} ms, "
              f"{1000 / statistics.fmean(times):,.0f} ops/s")

    cohort = population(cohort_n, seed=11)
    gc.collect()
    t0 = time.perf_counter()
    rows = [cohort_summary(f, book, f.target_match_year or CYCLE, AS_OF) for f in cohort]
    elapsed = time.perf_counter() - t0
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    print(f"  cohort_summary x {cohort_n:,} (each for its own target cycle): {elapsed:.2f} s, "
          f"{cohort_n / elapsed:,.0f} rows/s   (target < {TARGET_COHORT_S:.0f} s for 10,000: "
          f"{'met' if elapsed * 10_000 / cohort_n < TARGET_COHORT_S else 'NOT met'})")
    print("  statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
