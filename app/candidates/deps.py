from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.candidates.models import Candidate
from app.candidates.service import get_candidate
from app.core.db import SessionDep
from app.core.security import PrincipalDep


async def candidate_for_principal(
    session: SessionDep, principal: PrincipalDep, candidate_id: Annotated[uuid.UUID, Path()]
) -> Candidate:
    """Load the candidate or answer 404, whether it is missing or simply not the caller's."""
    return await get_candidate(session, principal, candidate_id)


CandidateDep = Annotated[Candidate, Depends(candidate_for_principal)]
