from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.models import Invitation, User
from app.accounts.schemas import InvitationPublic, UserPublic
from app.audit.models import AuditRecord
from app.audit.schemas import AuditRecordPublic
from app.audit.writer import flush_coalesced, record
from app.calendars.models import CalendarSubscription
from app.candidates.models import Candidate, CandidateRecord
from app.candidates.schemas import CandidatePublic
from app.core.errors import AppError
from app.guidance import service as pathway
from app.milestones.models import Milestone
from app.milestones.schemas import MilestonePublic
from app.pathway.facts import WhatIf
from app.programs.models import ProgramList, ProgramListEntry
from app.programs.schemas import EntryPublic, ProgramListPublic
from app.usce.models import UsceRecord
from app.usce.schemas import UscePublic


def _dump(model: Any, rows: Any) -> list[dict[str, Any]]:
    return [model.model_validate(r).model_dump(mode="json") for r in rows]


async def _computed(render: Any) -> Any:
    try:
        return json.loads(await render())
    except AppError as exc:  # e.g. no rule set for the candidate's year: say why instead of failing the export
        return {"unavailable": exc.detail}


async def export_candidate(session: AsyncSession, cand_row: CandidateRecord) -> dict[str, Any]:
    """The candidate's whole record, its computed views and who accessed it; the export itself is audited."""
    cand = await session.get(Candidate, cand_row.id)
    assert cand is not None
    milestones = (await session.execute(select(Milestone).where(col(Milestone.candidate_id) == cand.id)
                                        .order_by(col(Milestone.created_at), col(Milestone.id)))).scalars().all()
    usce = (await session.execute(select(UsceRecord).where(col(UsceRecord.candidate_id) == cand.id)
                                  .order_by(col(UsceRecord.start_on), col(UsceRecord.id)))).scalars().all()
    lists = (await session.execute(select(ProgramList).where(col(ProgramList.candidate_id) == cand.id)
                                   .order_by(col(ProgramList.created_at), col(ProgramList.id)))).scalars().all()
    entries = (await session.execute(select(ProgramListEntry).where(
        col(ProgramListEntry.list_id).in_([pl.id for pl in lists])).order_by(col(ProgramListEntry.created_at)))
    ).scalars().all() if lists else []
    subscriptions = (await session.execute(select(CalendarSubscription).where(
        col(CalendarSubscription.candidate_id) == cand.id))).scalars().all()
    accounts = (await session.execute(select(User).where(col(User.candidate_id) == cand.id)
                                      .order_by(col(User.created_at)))).scalars().all()
    invitations = (await session.execute(select(Invitation).where(col(Invitation.candidate_id) == cand.id)
                                         .order_by(col(Invitation.created_at)))).scalars().all()
    await flush_coalesced()  # the latest reads of the record, in its access log
    await session.run_sync(lambda s: record(s.connection(), action="export", organization_id=cand.organization_id,
                                            candidate_id=cand.id, subject_type="candidate", subject_id=cand.id))
    access = (await session.execute(select(AuditRecord).where(col(AuditRecord.candidate_id) == cand.id)
                                    .order_by(col(AuditRecord.occurred_at).desc(), col(AuditRecord.id).desc())
                                    )).scalars().all()
    await session.commit()
    by_list: dict[Any, list[Any]] = {}
    for e in entries:
        by_list.setdefault(e.list_id, []).append(e)
    return {
        "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "candidate": CandidatePublic.model_validate(cand).model_dump(mode="json"),
        "milestones": _dump(MilestonePublic, milestones),
        "usce_records": _dump(UscePublic, usce),
        "program_lists": [{**ProgramListPublic.model_validate(pl).model_dump(mode="json"),
                           "entries": _dump(EntryPublic, by_list.get(pl.id, []))} for pl in lists],
        # their sign-in account (never its password hash) and the invitations to it (never their tokens)
        "accounts": _dump(UserPublic, accounts),
        "invitations": _dump(InvitationPublic, invitations),
        "calendar_subscriptions": [{"id": str(s.id), "name": s.name, "created_at": s.created_at.isoformat()}
                                   for s in subscriptions],
        "computed": {
            "next_step": await _computed(lambda: pathway.next_step_json(cand_row, as_of=None, cycle=None)),
            "readiness": await _computed(lambda: pathway.readiness_json(cand_row, as_of=None, cycle=None,
                                                                        what_if=WhatIf())),
            "timeline": await _computed(lambda: pathway.timeline_json(cand_row, as_of=None, cycle=None)),
            "screening": {str(pl.id): await _computed(lambda pl=pl: pathway.screening_json(cand_row, pl, as_of=None,
                                                                                           cycle=None))
                          for pl in lists},
        },
        "access_log": _dump(AuditRecordPublic, access),
    }
