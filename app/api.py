"""Mounts every domain router under /v1: every route requires a principal (app.accounts.principal) unless its
router is one of the public ones, which opt out here, by name."""

from fastapi import APIRouter, Depends

from app.accounts.principal import get_principal
from app.accounts.router import (
    auth_router,
    invitation_router,
    org_router,
    public_auth_router,
    public_invitation_router,
    user_router,
)
from app.audit.router import access_log_router
from app.audit.router import router as audit_router
from app.calendars.router import feed_router as calendar_feed_router
from app.calendars.router import router as calendar_subscriptions_router
from app.candidates.router import router as candidates_router
from app.events.router import router as events_router
from app.guidance.router import candidate_router as pathway_router
from app.guidance.router import cohort_router, cycles_router
from app.imports.router import export_router as export_router
from app.imports.router import router as imports_router
from app.matching.router import router as matching_router
from app.milestones.router import router as milestones_router
from app.milestones.router import types_router as milestone_types_router
from app.privacy.router import router as privacy_router
from app.programs.router import lists_router as program_lists_router
from app.programs.router import router as programs_router
from app.usce.router import router as usce_router
from app.webhooks.router import deliveries_doc as webhook_deliveries_doc
from app.webhooks.router import router as webhooks_router

# The busiest first: route matching tries them in this order (the app holds their routes in one flat list).
authenticated_routers: tuple[APIRouter, ...] = (
    candidates_router,
    pathway_router,
    milestones_router,
    usce_router,
    program_lists_router,
    programs_router,
    milestone_types_router,
    auth_router,
    user_router,
    invitation_router,
    org_router,
    cohort_router,
    cycles_router,
    matching_router,
    events_router,
    audit_router,
    calendar_subscriptions_router,
    webhooks_router,
    imports_router,
    export_router,
    access_log_router,
    privacy_router,
)

# No credentials: signing in, resetting a password, accepting an invitation, a calendar feed (its URL is the secret).
public_routers: tuple[APIRouter, ...] = (
    public_auth_router,
    public_invitation_router,
    calendar_feed_router,
)

_authenticated = APIRouter(dependencies=[Depends(get_principal)])
for _router in authenticated_routers:
    _authenticated.include_router(_router)
_public = APIRouter()
for _router in public_routers:
    _public.include_router(_router)
api_routers: tuple[APIRouter, ...] = (_authenticated, _public)

# The requests the service makes to its clients (the OpenAPI `webhooks` section).
api_webhooks: tuple[APIRouter, ...] = (webhook_deliveries_doc,)
