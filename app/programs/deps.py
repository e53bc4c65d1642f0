from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.accounts.principal import PrincipalDep
from app.candidates.deps import CandidateDep
from app.core.db import SessionDep
from app.programs import service
from app.programs.models import Program, ProgramList


async def program_for_principal(session: SessionDep, _: PrincipalDep,
                                program_id: Annotated[uuid.UUID, Path()]) -> Program:
    return await service.get_program(session, program_id)


async def list_for_candidate(session: SessionDep, cand: CandidateDep,
                             list_id: Annotated[uuid.UUID, Path()]) -> ProgramList:
    return await service.get_list(session, cand, list_id)


ProgramDep = Annotated[Program, Depends(program_for_principal)]
ProgramListDep = Annotated[ProgramList, Depends(list_for_candidate)]
