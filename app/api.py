"""Mounts every domain router under /v1."""

from fastapi import APIRouter

from app.accounts.router import auth_router, org_router, user_router
from app.candidates.router import router as candidates_router
from app.milestones.router import router as milestones_router
from app.milestones.router import types_router as milestone_types_router
from app.programs.router import lists_router as program_lists_router
from app.programs.router import router as programs_router
from app.usce.router import router as usce_router

api_router = APIRouter(prefix="/v1")
for r in (
    auth_router,
    org_router,
    user_router,
    candidates_router,
    milestone_types_router,
    milestones_router,
    usce_router,
    programs_router,
    program_lists_router,
):
    api_router.include_router(r)
