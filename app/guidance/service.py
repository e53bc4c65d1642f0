"""Builds the pathway engines' facts from the database and runs them. The engines stay pure; this is
where they meet the database.

A candidate's computed views need a constant number of statements whatever the size of the record: the candidate
(loaded by the route's dependency), then its milestones, USCE records and program-list entries joined to their
programs: four in all.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate, CandidateRecord
from app.core.cache import AnswerCache
from app.core.config import get_settings
from app.core.errors import ValidationFailed, field_error
from app.core.models import table_of
from app.core.reads import TypedRead, read
from app.core.serialization import dumps
from app.milestones.models import Milestone
from app.pathway.facts import (
    CandidateFacts,
    ListEntryFact,
    MilestoneFact,
    OetScores,
    ProgramFact,
    UsceFact,
    WhatIf,
)
from app.pathway.next_step import next_step
from app.pathway.readiness import readiness
from app.pathway.rules import RuleBook, active_rulebook
from app.pathway.schemas import NextStepPublic, ReadinessPublic, ScreeningPublic, TimelinePublic
from app.pathway.screening import screen
from app.pathway.timeline import timeline, to_icalendar
from app.programs.models import Program, ProgramList, ProgramListEntry
from app.usce.models import UsceRecord

M = table_of(Milestone)
U = table_of(UsceRecord)
E = table_of(ProgramListEntry)
L = table_of(ProgramList)
P = table_of(Program)
C = table_of(Candidate)

_MILESTONE_COLS = (M.c.candidate_id, M.c.type_code, M.c.status, M.c.attempt, M.c.scheduled_on, M.c.completed_on,
                   M.c.result)
_USCE_COLS = (U.c.candidate_id, U.c.kind, U.c.hands_on, U.c.specialty, U.c.start_on, U.c.end_on, U.c.us_letter)
_PROGRAM_COLS = (P.c.id, P.c.name, P.c.specialty, P.c.track, P.c.state, P.c.sponsors_j1, P.c.sponsors_h1b,
                 P.c.max_years_since_graduation, P.c.min_step2ck, P.c.first_attempt_only, P.c.max_attempts,
                 P.c.usce_required, P.c.usce_min_weeks, P.c.usce_hands_on_only, P.c.usce_recency_months,
                 P.c.min_letters, P.c.ecfmg_cert_required_by, P.c.step3_required_by)
_ENTRY_COLS = (L.c.candidate_id, E.c.list_id, E.c.status.label("entry_status"), E.c.signal, E.c.rank_position,
               *_PROGRAM_COLS)
_ORDER_M = (M.c.candidate_id, M.c.completed_on, M.c.scheduled_on, M.c.created_at, M.c.id)
_ORDER_U = (U.c.candidate_id, U.c.start_on, U.c.id)
_ORDER_E = (L.c.candidate_id, E.c.list_id, E.c.rank_position, E.c.created_at, E.c.id)


# Built once with a bound parameter: statement construction costs more than running these small queries.
_JOIN = E.join(L, E.c.list_id == L.c.id).join(P, E.c.program_id == P.c.id)
_MS_OF = TypedRead(select(*_MILESTONE_COLS).where(M.c.candidate_id == bindparam("cid")).order_by(*_ORDER_M))
_US_OF = TypedRead(select(*_USCE_COLS).where(U.c.candidate_id == bindparam("cid")).order_by(*_ORDER_U))
_ES_OF = TypedRead(select(*_ENTRY_COLS).select_from(_JOIN).where(L.c.candidate_id == bindparam("cid"))
                   .order_by(*_ORDER_E))


def rulebook() -> RuleBook:
    return active_rulebook(get_settings().rules_dir)


def resolve_cycle(book: RuleBook, requested: int | None, target: int | None, as_of: date) -> int:
    """The Match year to compute for: asked for, else the candidate's target, else the next one still open."""
    year = requested if requested is not None else target
    if year is None:
        upcoming = [y for y in book.years if book.cycle(y).calendar.on("rol_deadline") >= as_of]
        year = upcoming[0] if upcoming else book.years[-1]
    if not book.has(year):
        lo, hi = book.supported_range
        raise ValidationFailed(
            f"Match cycle {year} is not supported; rule sets exist for {lo}-{hi}.", code="unknown_cycle",
            errors=[field_error("query.cycle" if requested is not None else "candidate.target_match_year",
                                f"supported cycles are {lo}-{hi}", "unknown_cycle")])
    return year


def _milestone(row: Any) -> MilestoneFact:
    result = row.result or {}
    oet = None
    if all(isinstance(result.get(k), int) for k in ("listening", "reading", "writing", "speaking")):
        oet = OetScores(result["listening"], result["reading"], result["writing"], result["speaking"])
    return MilestoneFact(code=row.type_code, status=row.status, attempt=row.attempt, scheduled_on=row.scheduled_on,
                         completed_on=row.completed_on, score=result.get("score"), oet=oet,
                         pathway=result.get("pathway"), match_outcome=result.get("outcome"),
                         visa_type=result.get("visa_type"))


def _usce(row: Any) -> UsceFact:
    return UsceFact(kind=row.kind, hands_on=row.hands_on, specialty=row.specialty, start_on=row.start_on,
                    end_on=row.end_on, us_letter=row.us_letter)


def program_fact(row: Any) -> ProgramFact:
    return ProgramFact(
        program_id=str(row.id), name=row.name, specialty=row.specialty, track=row.track, state=row.state,
        sponsors_j1=row.sponsors_j1, sponsors_h1b=row.sponsors_h1b,
        max_years_since_graduation=row.max_years_since_graduation, min_step2ck=row.min_step2ck,
        first_attempt_only=row.first_attempt_only, max_attempts=row.max_attempts, usce_required=row.usce_required,
        usce_min_weeks=row.usce_min_weeks, usce_hands_on_only=row.usce_hands_on_only,
        usce_recency_months=row.usce_recency_months, min_letters=row.min_letters,
        ecfmg_cert_required_by=row.ecfmg_cert_required_by, step3_required_by=row.step3_required_by)


def _entry(row: Any) -> ListEntryFact:
    return ListEntryFact(program=program_fact(row), status=row.entry_status, signal=row.signal,
                         rank_position=row.rank_position, list_id=str(row.list_id))


def build_facts(cand: CandidateRecord, milestones: Iterable[Any], usce: Iterable[Any], entries: Iterable[Any]
                ) -> CandidateFacts:
    return CandidateFacts(
        us_status=cand.us_status, graduation_on=cand.graduation_on,
        target_specialties=tuple(cand.target_specialties or ()), target_match_year=cand.target_match_year,
        visa_need=cand.visa_need, milestones=tuple(_milestone(m) for m in milestones),
        usce=tuple(_usce(u) for u in usce), entries=tuple(_entry(e) for e in entries))


async def load_facts(cand: CandidateRecord) -> CandidateFacts:
    """The candidate's facts: three reads on one connection (see app.core.reads), whatever the record's size."""
    params = {"cid": cand.id}
    ms, us, es = await read((_MS_OF, params), (_US_OF, params), (_ES_OF, params))
    return build_facts(cand, ms, us, es)


@dataclass(frozen=True, slots=True)
class Computation:
    """What every computed view of one candidate starts from."""

    facts: CandidateFacts
    book: RuleBook
    cycle: int
    as_of: date


_answers: AnswerCache | None = None


def answers() -> AnswerCache:
    """This process's rendered answers of the computed views (see `_answer`)."""
    global _answers
    if _answers is None:
        _answers = AnswerCache(get_settings().computed_cache_entries)
    return _answers


async def _answer(view: Hashable, cand: Any, *, as_of: date | None, cycle: int | None,
                  compute: Callable[[Computation], bytes]) -> tuple[bytes, int]:
    """A computed view's rendered answer and the Match cycle it is for: from the cache when one was kept under the
    same key, else computed.

    The key names everything the answer depends on: the view and its parameters, the candidate's `version` (its
    own row) and `facts_version` (bumped in the same transaction as any change to its milestones, USCE, program
    lists, entries or their programs), the Match cycle, the as_of day and the rule set. The answer is a pure
    function of those, so a kept answer is the one a fresh computation would give."""
    day = as_of or datetime.now(UTC).date()
    book = rulebook()
    year = resolve_cycle(book, cycle, cand.target_match_year, day)
    key = (view, cand.id, cand.version, cand.facts_version, year, day, id(book))
    cache = answers()
    body = cache.get(key)
    if body is None:
        body = compute(Computation(await load_facts(cand), book, year, day))
        cache.put(key, body)
    return body, year


async def next_step_json(cand: CandidateRecord, *, as_of: date | None, cycle: int | None) -> bytes:
    body, _ = await _answer("next_step", cand, as_of=as_of, cycle=cycle, compute=lambda c: dumps(
        NextStepPublic.from_result(next_step(c.facts, c.book, c.cycle, c.as_of))))
    return body


async def readiness_json(cand: CandidateRecord, *, as_of: date | None, cycle: int | None,
                         what_if: WhatIf) -> bytes:
    hypothetical = None if what_if.is_empty else what_if
    body, _ = await _answer(("readiness", hypothetical), cand, as_of=as_of, cycle=cycle,
                            compute=lambda c: dumps(ReadinessPublic.from_result(
                                readiness(c.facts, c.book, c.cycle, c.as_of, hypothetical))))
    return body


async def screening_json(cand: CandidateRecord, plist: Any, *, as_of: date | None, cycle: int | None
                         ) -> bytes:
    """Screening of one list, for the cycle asked for, else the list's own, else the candidate's target."""
    list_id = str(plist.id)

    def compute(c: Computation) -> bytes:
        entries = [e for e in c.facts.entries if e.list_id == list_id]
        return dumps(ScreeningPublic.from_result(screen(c.facts, entries, c.book, c.cycle, c.as_of)))

    body, _ = await _answer(("screening", list_id), cand, as_of=as_of,
                            cycle=cycle if cycle is not None else plist.cycle, compute=compute)
    return body


async def timeline_json(cand: CandidateRecord, *, as_of: date | None, cycle: int | None) -> bytes:
    body, _ = await _answer("timeline", cand, as_of=as_of, cycle=cycle, compute=lambda c: dumps(
        TimelinePublic.from_result(timeline(c.facts, c.book, c.cycle, c.as_of))))
    return body


async def timeline_ics(cand: CandidateRecord, *, as_of: date | None, cycle: int | None
                       ) -> tuple[bytes, int]:
    """The timeline as an iCalendar feed, and the cycle it is for."""
    return await _answer("timeline.ics", cand, as_of=as_of, cycle=cycle, compute=lambda c: to_icalendar(
        timeline(c.facts, c.book, c.cycle, c.as_of), f"candidate-{cand.id}").encode())


async def load_cohort(session: AsyncSession, organization_id: uuid.UUID,
                      candidate_ids: Sequence[uuid.UUID] | None = None) -> list[tuple[Any, CandidateFacts]]:
    """Facts for many candidates in four statements (one per table), grouped in memory."""
    conn = await session.connection()
    where_c = [C.c.organization_id == organization_id]
    if candidate_ids is not None:
        where_c.append(C.c.id.in_(candidate_ids))
    cands = (await conn.execute(select(C).where(*where_c).order_by(C.c.full_name, C.c.id))).all()
    in_org = select(C.c.id).where(*where_c)
    ms: dict[Any, list[Any]] = defaultdict(list)
    for r in (await conn.execute(select(*_MILESTONE_COLS).where(M.c.candidate_id.in_(in_org))
                                 .order_by(*_ORDER_M))).all():
        ms[r.candidate_id].append(r)
    us: dict[Any, list[Any]] = defaultdict(list)
    for u in (await conn.execute(select(*_USCE_COLS).where(U.c.candidate_id.in_(in_org)).order_by(*_ORDER_U))).all():
        us[u.candidate_id].append(u)
    # Entries without their programs' columns, then each program once: a cohort's lists share programs.
    es: dict[Any, list[Any]] = defaultdict(list)
    for e in (await conn.execute(select(L.c.candidate_id, E.c.list_id, E.c.program_id, E.c.status, E.c.signal,
                                        E.c.rank_position).select_from(E.join(L, E.c.list_id == L.c.id))
                                 .where(L.c.candidate_id.in_(in_org)).order_by(*_ORDER_E))).all():
        es[e.candidate_id].append(e)
    in_lists = select(E.c.program_id).select_from(E.join(L, E.c.list_id == L.c.id)).where(L.c.candidate_id.in_(in_org))
    programs = {p.id: program_fact(p) for p in (await conn.execute(select(*_PROGRAM_COLS)
                                                                   .where(P.c.id.in_(in_lists)))).all()}
    out = []
    for c in cands:
        facts = build_facts(c, ms[c.id], us[c.id], ())
        entries = tuple(ListEntryFact(program=programs[e.program_id], status=e.status, signal=e.signal,
                                      rank_position=e.rank_position, list_id=str(e.list_id)) for e in es[c.id])
        out.append((c, replace(facts, entries=entries)))
    return out
