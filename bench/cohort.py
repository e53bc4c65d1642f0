"""The advisors' cohort view at scale: an organization of 10,000 candidates.

    python bench/cohort.py [--candidates 10000] [--database-url URL]

Seeds a scratch database (each candidate with exams, OET, USCE and a 10-program list), then times, in-process
through the ASGI app, the first page of GET /v1/organizations/{id}/readiness (computed for that page only) and the
same view filtered by status (which computes the whole cohort). Prints medians of 3. Targets: first page < 1 s,
whole cohort < 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def seed(n: int) -> str:
    from sqlalchemy import insert

    from app.accounts.models import Organization
    from app.candidates.models import Candidate
    from app.core.db import db
    from app.milestones.models import Milestone
    from app.programs.models import Program, ProgramList, ProgramListEntry
    from app.usce.models import UsceRecord

    now = datetime.now(UTC)
    org_id = uuid.uuid4()
    programs = [{"id": uuid.uuid4(), "acgme_id": f"{1400200000 + i:010d}", "name": f"P{i}", "institution": "I",
                 "specialty": "internal_medicine", "track": "categorical", "sponsors_j1": i % 3 != 0,
                 "min_step2ck": 215 + i, "max_years_since_graduation": 3 + i % 5, "source": "bench",
                 "facts_as_of": date(2026, 9, 1), "created_at": now, "updated_at": now, "version": 1}
                for i in range(40)]
    cands, ms, us, lists, entries = [], [], [], [], []
    for i in range(n):
        cid = uuid.uuid4()
        cands.append({"id": cid, "organization_id": org_id, "full_name": f"Candidate {i:05d}", "us_status": "none",
                      "target_specialties": ["internal_medicine"], "target_match_year": 2027 + i % 2,
                      "visa_need": "j1", "graduation_on": date(2018 + i % 8, 6, 30), "created_at": now,
                      "updated_at": now, "version": 1})
        stage = i % 4
        base = {"candidate_id": cid, "created_at": now, "updated_at": now, "version": 1}
        ms.append({**base, "id": uuid.uuid4(), "type_code": "usmle_step1", "status": "passed",
                   "completed_on": date(2024, 5, 1), "result": None})
        if stage >= 1:
            ms.append({**base, "id": uuid.uuid4(), "type_code": "usmle_step2ck", "status": "passed",
                       "completed_on": date(2025, 8, 1), "result": {"score": 220 + i % 40}})
        if stage >= 2:
            ms.append({**base, "id": uuid.uuid4(), "type_code": "oet_medicine", "status": "passed",
                       "completed_on": date(2025, 3, 1),
                       "result": {"listening": 360, "reading": 360, "writing": 320, "speaking": 380}})
            ms.append({**base, "id": uuid.uuid4(), "type_code": "ecfmg_pathway", "status": "completed",
                       "completed_on": date(2025, 9, 1), "result": {"pathway": "1"}})
        us.append({**base, "id": uuid.uuid4(), "kind": "externship", "hands_on": True, "institution": "H",
                   "specialty": "internal_medicine", "start_on": date(2026, 3, 2), "end_on": date(2026, 4, 24),
                   "us_letter": stage % 2 == 0})
        lid = uuid.uuid4()
        lists.append({"id": lid, "candidate_id": cid, "name": "IM", "cycle": 2027, "created_at": now,
                      "updated_at": now, "version": 1})
        for k in range(10):
            entries.append({"id": uuid.uuid4(), "list_id": lid, "program_id": programs[(i + k) % 40]["id"],
                            "status": "applied", "rank_position": k + 1, "created_at": now, "updated_at": now,
                            "version": 1})
    async with db.session() as s:
        await s.execute(insert(Organization.__table__).values(id=org_id, name="Bench org", created_at=now,  # type: ignore[attr-defined]
                                                             updated_at=now, version=1))
        for table, rows in ((Program, programs), (Candidate, cands), (Milestone, ms), (UsceRecord, us),
                            (ProgramList, lists), (ProgramListEntry, entries)):
            for start in range(0, len(rows), 5000):
                await s.execute(insert(table.__table__), rows[start:start + 5000])  # type: ignore[attr-defined]
        await s.commit()
    return str(org_id)


async def main_async(n: int) -> None:
    import httpx

    from app.accounts.models import User
    from app.core.db import db
    from app.core.security import Role, create_access_token
    from app.main import create_app

    org_id = await seed(n)
    async with db.session() as s:  # a token speaks only for an account that exists (app.core.security)
        advisor = User(email=f"advisor-{uuid.uuid4().hex[:6]}@bench.test", full_name="Bench Advisor",
                       password_hash="!", role="advisor", organization_id=uuid.UUID(org_id))
        s.add(advisor)
        await s.commit()
    token, _ = create_access_token(user_id=advisor.id, role=Role.advisor, organization_id=uuid.UUID(org_id),
                                   candidate_id=None)
    app = create_app()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/v1/organizations/{org_id}/readiness"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for label, params in (("first page (20, by name)", {"as_of": "2026-11-25"}),
                              ("whole cohort (status=at_risk)", {"as_of": "2026-11-25", "status": "at_risk"}),
                              ("whole cohort (sort=-score)", {"as_of": "2026-11-25", "sort": "-score"})):
            times = []
            for _ in range(3):
                t = time.perf_counter()
                r = await client.get(url, params=params, headers=headers)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
            total = r.json()["total"]
            print(f"  {label:<34} median {statistics.median(times):7.3f} s   (total={total})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mr-cohort-"))
    url = args.database_url or f"sqlite:///{tmp}/cohort.db"
    os.environ.update(DATABASE_URL=url, SECRET_KEY="bench-secret-" + "x" * 40, ENVIRONMENT="production",
                      SMTP_HOST="smtp.invalid")
    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.core.migrate import upgrade_head

    upgrade_head(url)
    print(f"cohort of {args.candidates} candidates on {url.split('://')[0]}")
    asyncio.run(main_async(args.candidates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
