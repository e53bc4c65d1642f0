"""The demo data set: fictional organizations, people and programs (no real people, no real programs).

Loaded by `make run` when the database is empty and by `python -m app seed`; never when ENVIRONMENT=production.
"""

from __future__ import annotations

import random
import secrets
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Organization, User
from app.candidates.models import Candidate
from app.core.config import get_settings
from app.core.db import db
from app.core.security import hash_password
from app.milestones.models import Milestone
from app.programs.models import Program, ProgramList, ProgramListEntry
from app.usce.models import UsceRecord

SPECIALTIES = ["internal_medicine", "family_medicine", "pediatrics", "psychiatry", "neurology", "pathology",
               "general_surgery"]
STATES = ["NY", "NJ", "PA", "MI", "OH", "IL", "TX", "FL", "CA", "MD"]
PLACES = ["Riverbend", "Oak Hollow", "Lakeside", "Pinecrest", "Harborview", "Maple Ridge", "Stonebridge",
          "Cedar Falls", "Brightwater", "Fairhaven"]


def _programs() -> list[Program]:
    rng = random.Random(20261125)  # fixed seed: the same catalogue every time
    out = []
    for i in range(30):
        specialty = SPECIALTIES[i % len(SPECIALTIES)]
        place = PLACES[i % len(PLACES)]
        track = "preliminary" if i % 10 == 9 else "categorical"
        j1 = rng.random() < 0.85
        out.append(Program(
            acgme_id=f"{1400000000 + i * 7919:010d}",
            nrmp_code=f"{1000 + i:04d}{140 + i % 7:03d}{'P' if track == 'preliminary' else 'C'}0",
            name=f"{place} {specialty.replace('_', ' ').title()} Program (fictional)",
            institution=f"{place} Teaching Hospital (fictional)",
            specialty=specialty, track=track, state=STATES[i % len(STATES)], city=place,
            positions=rng.randint(4, 30), sponsors_j1=j1, sponsors_h1b=rng.random() < 0.35,
            img_share_percent=rng.randint(5, 80),
            max_years_since_graduation=rng.choice([None, 3, 5, 5, 7]),
            min_step2ck=rng.choice([None, 215, 220, 225, 230, 240]),
            first_attempt_only=rng.choice([None, True, False]),
            max_attempts=None,
            usce_required=rng.choice([None, True, True, False]),
            usce_min_weeks=rng.choice([None, 4, 8, 12]),
            usce_hands_on_only=rng.choice([None, True, False]),
            usce_recency_months=rng.choice([None, 12, 24]),
            min_letters=rng.choice([None, 3, 3, 4]),
            us_letters_required=rng.choice([None, True, False]),
            ecfmg_cert_required_by=rng.choice([None, "rank_deadline", "start", "application"]),
            step3_required_by=rng.choice([None, "rank_deadline"]) if rng.random() < 0.35 else None,
            source="https://example.org/fictional-program-requirements", facts_as_of=date(2026, 9, 1),
        ))
    return out


def _m(code: str, status: str, *, on: date | None = None, sched: date | None = None, attempt: int | None = None,
       result: dict[str, Any] | None = None) -> Milestone:
    return Milestone(candidate_id=None, type_code=code, status=status, completed_on=on, scheduled_on=sched,  # type: ignore[arg-type]
                     attempt=attempt, result=result)


def _candidates(org: Organization, prefix: str) -> list[tuple[Candidate, list[Milestone], list[UsceRecord]]]:
    early = Candidate(organization_id=org.id, external_id=f"{prefix}-001", full_name=f"{prefix.title()} Candidate One",
                      email=f"candidate1@{prefix}.demo.test", citizenship_country="IN", us_status="none",
                      school_name="Example Medical College (fictional)", school_country="IN",
                      graduation_on=date(2026, 6, 30), usmle_id=f"{'1' if prefix == 'north' else '2'}0000001",
                      target_specialties=["internal_medicine"], target_match_year=2028, visa_need="j1")
    early_ms = [_m("specialty_decided", "completed", on=date(2025, 9, 1)),
                _m("usmle_id_registered", "completed", on=date(2025, 10, 1)),
                _m("usmle_step1", "passed", on=date(2026, 3, 12), attempt=1),
                _m("usmle_step2ck", "scheduled", sched=date(2027, 2, 20))]
    mid = Candidate(organization_id=org.id, external_id=f"{prefix}-002", full_name=f"{prefix.title()} Candidate Two",
                    email=f"candidate2@{prefix}.demo.test", citizenship_country="EG", us_status="none",
                    school_name="Example University Faculty of Medicine (fictional)", school_country="EG",
                    graduation_on=date(2023, 7, 1), usmle_id=f"{'1' if prefix == 'north' else '2'}0000002",
                    target_specialties=["internal_medicine", "family_medicine"], target_match_year=2027,
                    visa_need="either")
    mid_ms = [_m("usmle_id_registered", "completed", on=date(2023, 1, 10)),
              _m("usmle_step1", "passed", on=date(2023, 6, 1), attempt=1),
              _m("usmle_step2ck", "passed", on=date(2025, 11, 3), attempt=1, result={"score": 246}),
              _m("oet_medicine", "passed", on=date(2025, 5, 17),
                 result={"listening": 380, "reading": 370, "writing": 330, "speaking": 400}),
              _m("ecfmg_pathway", "completed", on=date(2025, 9, 30), result={"pathway": "1"}),
              _m("credentials_verified", "completed", on=date(2025, 8, 1)),
              _m("eras_application", "completed", on=date(2026, 9, 3))]
    mid_usce = [UsceRecord(candidate_id=None, kind="externship", hands_on=True,  # type: ignore[arg-type]
                           institution="Lakeside Teaching Hospital (fictional)", city="Lakeside", state="IL",
                           specialty="internal_medicine", start_on=date(2026, 4, 6), end_on=date(2026, 5, 29),
                           supervisor="Dr. Example Attending (fictional)", us_letter=True),
                UsceRecord(candidate_id=None, kind="observership", hands_on=False,  # type: ignore[arg-type]
                           institution="Harborview Clinic (fictional)", city="Harborview", state="NY",
                           specialty="family_medicine", start_on=date(2026, 6, 1), end_on=date(2026, 6, 26),
                           us_letter=True)]
    late = Candidate(organization_id=org.id, external_id=f"{prefix}-003", full_name=f"{prefix.title()} Candidate Three",
                     email=f"candidate3@{prefix}.demo.test", citizenship_country="US", us_status="citizen",
                     school_name="Caribbean Example School of Medicine (fictional)", school_country="DM",
                     graduation_on=date(2015, 5, 20), target_specialties=["psychiatry"], target_match_year=2027,
                     visa_need="none")
    late_ms = [_m("usmle_step1", "failed", on=date(2014, 2, 1), attempt=1, result={"score": 185}),
               _m("usmle_step1", "passed", on=date(2014, 6, 1), attempt=2, result={"score": 205}),
               _m("usmle_step2cs", "passed", on=date(2019, 4, 2), attempt=1),
               _m("oet_medicine", "failed", on=date(2026, 1, 15),
                  result={"listening": 360, "reading": 350, "writing": 290, "speaking": 370})]
    return [(early, early_ms, []), (mid, mid_ms, mid_usce), (late, late_ms, [])]


async def is_empty(session: AsyncSession) -> bool:
    return (await session.execute(select(func.count()).select_from(Organization))).scalar_one() == 0


async def load_demo(session: AsyncSession, password: str) -> None:
    pw = hash_password(password)
    programs = _programs()
    session.add_all(programs)
    session.add(User(email="admin@demo.test", full_name="Demo Admin", password_hash=pw, role="admin"))
    for prefix in ("north", "south"):
        org = Organization(name=f"{prefix.title()} University Advising Office (demo)")
        session.add(org)
        await session.flush()
        session.add(User(email=f"advisor@{prefix}.demo.test", full_name=f"{prefix.title()} Advisor",
                         password_hash=pw, role="advisor", organization_id=org.id))
        for i, (cand, ms, usce) in enumerate(_candidates(org, prefix)):
            session.add(cand)
            await session.flush()
            for m in ms:
                m.candidate_id = cand.id
            for u in usce:
                u.candidate_id = cand.id
            session.add_all([*ms, *usce])
            if i == 0:
                session.add(User(email=f"candidate1@{prefix}.demo.test", full_name=cand.full_name,
                                 password_hash=pw, role="candidate", organization_id=org.id, candidate_id=cand.id))
            if i == 1:
                plist = ProgramList(candidate_id=cand.id, name="IM 2027", cycle=2027)
                session.add(plist)
                await session.flush()
                im = [p for p in programs if p.specialty in ("internal_medicine", "family_medicine")][:8]
                for rank, p in enumerate(im, start=1):
                    session.add(ProgramListEntry(list_id=plist.id, program_id=p.id, status="interviewed",
                                                 signal="gold" if rank <= 2 else None, rank_position=rank))
    await session.commit()


DEMO_ACCOUNTS = ["admin@demo.test", "advisor@north.demo.test", "advisor@south.demo.test",
                 "candidate1@north.demo.test", "candidate1@south.demo.test"]


async def seed_if_empty() -> str | None:
    """Load the demo set into an empty database; returns the password used, or None when nothing was loaded."""
    settings = get_settings()
    if settings.environment == "production":
        raise RuntimeError("Demo data is never loaded when ENVIRONMENT=production.")
    async with db.session() as session:
        if not await is_empty(session):
            return None
        password = settings.demo_password or secrets.token_urlsafe(12)
        await load_demo(session, password)
    return password
