from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request

from app.accounts.principal import PrincipalDep
from app.candidates.models import CandidateRecord
from app.candidates.service import get_candidate
from app.core.coalesced import accesses

READS = frozenset({"GET", "HEAD"})


async def candidate_for_principal(request: Request, principal: PrincipalDep,
                                  candidate_id: Annotated[uuid.UUID, Path()]) -> CandidateRecord:
    """Load the candidate (a read-only row) or answer 404, whether it is missing or simply not the caller's.
    A read of the record or of anything under it is noted for the audit trail (writes record themselves)."""
    row = await get_candidate(principal, candidate_id)
    if request.method in READS:
        accesses.note("read", (candidate_id,))
    return row


# A read-only row with the candidate's columns as attributes (id, organization_id, version, ...).
CandidateDep = Annotated[CandidateRecord, Depends(candidate_for_principal)]
