from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request, Response

from app.accounts import invitations, passwords, service, sessions
from app.accounts.deps import OrganizationDep, SignInThrottleDep, UserDep
from app.accounts.principal import ADMINS, PEOPLE, PEOPLE_MANAGERS, STAFF, PrincipalDep
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    InvitationAccept,
    InvitationCreate,
    InvitationPublic,
    Me,
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    SessionsEnded,
    SignInSessionPublic,
    Token,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.core import mail
from app.core.db import SessionDep
from app.core.errors import DELETE, LIST, READ, UPDATE, WRITE_BODY, problem_responses
from app.core.http import (
    FORM,
    IdempotencyKeyHeader,
    IdempotencyKeyShownOnceHeader,
    IfMatchHeader,
    accepts,
    json_response,
    shown_once,
    shown_once_replay_headers,
)
from app.core.pagination import Page, PageDep, page_json_response, page_response
from app.core.security import Principal
from app.core.serialization import dumps
from app.core.throttle import client_address, throttle_of

auth_router = APIRouter(prefix="/auth", tags=["auth"])
# Public: no credentials (app.api mounts these without the principal every other route requires).
public_auth_router = APIRouter(prefix="/auth", tags=["auth"])  # signing in
password_reset_router = APIRouter(prefix="/auth", tags=["auth"])
public_invitation_router = APIRouter(prefix="/invitations", tags=["invitations"])
org_router = APIRouter(prefix="/organizations", tags=["organizations"])
user_router = APIRouter(prefix="/users", tags=["users"])
invitation_router = APIRouter(prefix="/invitations", tags=["invitations"])

@public_auth_router.post("/token", response_model=Token, responses=problem_responses(400, 401, 413, 415, 422, 503))
@accepts(*FORM, idempotent=False)  # a sign-in is not replayed: each one is a new session
async def issue_token(
    _throttle: SignInThrottleDep,
    session: SessionDep,
    username: Annotated[str | None, Form(min_length=3, max_length=254, description="Your email address "
                                                                                    "(password grant).")] = None,
    password: Annotated[str | None, Form(min_length=1, max_length=128, description="(password grant)")] = None,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()] = "password",
    refresh_token: Annotated[str | None, Form(min_length=1, max_length=128,
                                              description="(refresh_token grant)")] = None,
) -> Response:
    """Sign in with email and password (OAuth2 password grant), or renew with a refresh token (`refresh_token`
    grant: the token is spent and a new one returned; a spent one presented again ends the session, 401 with
    `code` `invalid_grant`). Returns a short-lived bearer token and a refresh token."""
    issued = await sessions.grant(session, grant_type, username=username, password=password,
                                  refresh_token=refresh_token)
    resp = json_response(Token(access_token=issued.access_token, expires_in=issued.expires_in,
                               refresh_token=issued.refresh_token, refresh_expires_in=issued.refresh_expires_in))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@auth_router.post("/logout", status_code=204, responses=problem_responses(401, 403, 503), dependencies=[PEOPLE])
async def logout(session: SessionDep, principal: PrincipalDep, idempotency_key: IdempotencyKeyHeader = None
                 ) -> Response:
    """End this sign-in session: its refresh tokens stop at once, its access tokens on every server within
    SESSION_CHECK_SECONDS (README). Other sessions of the user go on."""
    await sessions.logout(session, principal)
    return Response(status_code=204)


def _session_out(row: Any, principal: Principal) -> SignInSessionPublic:
    return SignInSessionPublic(id=row.id, created_at=row.created_at, expires_at=row.expires_at,
                               current=row.id == principal.session_id, version=row.version)


@auth_router.get("/sessions", response_model=Page[SignInSessionPublic], responses=problem_responses(*LIST),
                 dependencies=[PEOPLE])
async def list_sessions(session: SessionDep, principal: PrincipalDep, page: PageDep) -> Response:
    """Your sign-in sessions that still work (on other devices, in other browsers), the newest first; `current`
    marks this one. End one you do not recognise with `DELETE`, or all but this one with
    `POST /v1/auth/sessions/end-others` (changing your password does that too)."""
    items, total = await sessions.list_own_sessions(session, principal, page)
    return page_json_response(dumps([_session_out(r, principal).model_dump(mode="json") for r in items]), total, page)


@auth_router.post("/sessions/end-others", response_model=SessionsEnded,
                  responses=problem_responses(401, 403, 409, 413, 415, 422, 503), dependencies=[PEOPLE])
async def end_other_sessions(session: SessionDep, principal: PrincipalDep,
                             idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Sign out everywhere else: every session of yours but this one ends (refresh tokens at once, access tokens
    on every server within SESSION_CHECK_SECONDS)."""
    return json_response(SessionsEnded(ended=await sessions.end_other_sessions(session, principal)))


@auth_router.get("/sessions/{session_id:uuid}", response_model=SignInSessionPublic, responses=problem_responses(*READ),
                 dependencies=[PEOPLE])
async def get_session(session: SessionDep, principal: PrincipalDep, session_id: uuid.UUID) -> Response:
    """One of your live sessions, with its `ETag`; 404 once it has ended, and for anyone else's."""
    auth = await sessions.get_own_session(session, principal, session_id)
    return json_response(_session_out(auth, principal), etag_version=auth.version)


@auth_router.delete("/sessions/{session_id:uuid}", status_code=204, responses=problem_responses(*DELETE),
                    dependencies=[PEOPLE])
async def end_session(session: SessionDep, principal: PrincipalDep, session_id: uuid.UUID,
                      if_match: IfMatchHeader = None) -> Response:
    """End one of your sessions (this one too: that is a logout): its refresh token stops at once, its access
    tokens on every server within SESSION_CHECK_SECONDS."""
    auth = await sessions.get_own_session(session, principal, session_id)
    await sessions.end_own_session(session, principal, auth, if_match)
    return Response(status_code=204)


@auth_router.get("/me", response_model=Me, responses=problem_responses(401, 503))
async def who_am_i(principal: PrincipalDep) -> Response:
    """Who the credentials belong to: role, organization, candidate record."""
    return json_response(Me(role=principal.role.value, user_id=principal.user_id,
                            organization_id=principal.organization_id, candidate_id=principal.candidate_id,
                            api_key_id=principal.api_key_id))


_PASSWORD_PROBLEMS = problem_responses(400, 401, 403, 413, 415, 422, 503)
_PASSWORD_PROBLEMS[403] = {**_PASSWORD_PROBLEMS[403], "description": (
    "The current password is wrong (`code`: `current_password_incorrect`), or the caller is an API key.")}


@auth_router.post("/password", status_code=204, responses=_PASSWORD_PROBLEMS, dependencies=[PEOPLE])
async def change_password(session: SessionDep, principal: PrincipalDep, body: PasswordChange,
                          request: Request, idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Change your password, giving the current one. Your other sessions end (this one goes on). A wrong current
    password is a 403 (`current_password_incorrect`) and counts as a failed sign-in of your account: after too
    many, this answers 429 like sign-in does."""
    await passwords.change_password(session, principal, body, throttle=throttle_of(request),
                                    address=client_address(request))
    return Response(status_code=204)


@password_reset_router.post("/password-reset", status_code=202, openapi_extra={"security": []}, response_class=Response,
                  responses={202: {"description": "Accepted (no body). If the address belongs to an active account, "
                                                  "a reset token is mailed to it; the answer is the same either way."},
                             **problem_responses(400, 413, 415, 422, 503)})
async def request_password_reset(session: SessionDep, body: PasswordResetRequest,
                                 background: BackgroundTasks) -> Response:
    """Ask for a password reset token by mail (good for PASSWORD_RESET_MINUTES, once)."""
    message = await passwords.request_reset(session, body.email)
    if message is not None:
        background.add_task(mail.send, message)  # after the answer: its timing tells nothing
    return Response(status_code=202)


@password_reset_router.post("/password-reset/confirm", status_code=204, openapi_extra={"security": []},
                  responses=problem_responses(400, 404, 413, 415, 422, 503))
async def confirm_password_reset(session: SessionDep, body: PasswordResetConfirm) -> Response:
    """Set a new password with the mailed token. Every session of the account ends. An unusable token (unknown,
    expired, used) is a 404 with `code` `invalid_token`, whatever the reason."""
    await passwords.confirm_reset(session, body)
    return Response(status_code=204)


# ---- organizations -------------------------------------------------------------------------------------------

@org_router.get("", response_model=Page[OrganizationPublic], responses=problem_responses(*LIST), dependencies=[STAFF])
async def list_organizations(session: SessionDep, principal: PrincipalDep, page: PageDep) -> Response:
    """Organizations you can see: all for admins, your own otherwise. Ordered by creation."""
    items, total = await service.list_organizations(session, principal, page)
    return page_response(OrganizationPublic, items, total, page)


@org_router.post("", status_code=201, response_model=OrganizationPublic, responses=problem_responses(*WRITE_BODY),
                 dependencies=[ADMINS])
async def create_organization(session: SessionDep, body: OrganizationCreate,
                              idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Create an organization (platform admins only)."""
    org = await service.create_organization(session, body)
    return json_response(OrganizationPublic.model_validate(org), status_code=201, etag_version=org.version,
                         location=f"/v1/organizations/{org.id}")


@org_router.get("/{organization_id}", response_model=OrganizationPublic, responses=problem_responses(*READ))
async def get_organization(org: OrganizationDep) -> Response:
    """One organization you can see (your own, or any for admins), with its `ETag`."""
    return json_response(OrganizationPublic.model_validate(org), etag_version=org.version)


@org_router.patch("/{organization_id}", response_model=OrganizationPublic, responses=problem_responses(*UPDATE),
                  dependencies=[ADMINS])
async def update_organization(session: SessionDep, org: OrganizationDep, body: OrganizationUpdate,
                              if_match: IfMatchHeader = None) -> Response:
    """Change an organization's name, deadline lead days or whether candidates may erase their
    own record (platform admins only). Send the `ETag` you read as
    `If-Match`: 412 when it changed since, 428 without it."""
    org = await service.update_organization(session, org, body, if_match)
    return json_response(OrganizationPublic.model_validate(org), etag_version=org.version)


@org_router.delete("/{organization_id}", status_code=204, responses=problem_responses(*DELETE), dependencies=[ADMINS])
async def delete_organization(session: SessionDep, org: OrganizationDep,
                              if_match: IfMatchHeader = None) -> Response:
    """Delete an empty organization (no candidates, no users)."""
    await service.delete_organization(session, org, if_match)
    return Response(status_code=204)


@org_router.get("/{organization_id}/api-keys", response_model=Page[ApiKeyPublic],
                responses=problem_responses(*LIST, 404), dependencies=[PEOPLE_MANAGERS])
async def list_api_keys(session: SessionDep, org: OrganizationDep, page: PageDep) -> Response:
    """The organization's API keys, revoked ones included; never the keys themselves, which are shown once."""
    items, total = await service.list_api_keys(session, org, page)
    return page_response(ApiKeyPublic, items, total, page)


@org_router.post("/{organization_id}/api-keys", status_code=201, response_model=ApiKeyCreated,
                 responses={201: {"description": "Created; the key is in this response only.",
                                  "headers": shown_once_replay_headers("key")}, **problem_responses(*WRITE_BODY)},
                 dependencies=[ADMINS])
@shown_once("key")
async def create_api_key(session: SessionDep, org: OrganizationDep, body: ApiKeyCreate,
                         idempotency_key: IdempotencyKeyShownOnceHeader = None) -> Response:
    """Create an API key for the organization's systems. The key is in this response only: a retry with the same
    `Idempotency-Key` replays it with `key` null (`Secret-Withheld: key`) and makes no second key."""
    key, secret = await service.create_api_key(session, org, body)
    out = ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=secret)
    resp = json_response(out, status_code=201, etag_version=key.version,
                         location=f"/v1/organizations/{org.id}/api-keys/{key.id}")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@org_router.get("/{organization_id}/api-keys/{api_key_id}", response_model=ApiKeyPublic,
                responses=problem_responses(*READ, 403), dependencies=[PEOPLE_MANAGERS])
async def get_api_key(session: SessionDep, org: OrganizationDep,
                      api_key_id: uuid.UUID) -> Response:
    """One of the organization's API keys (not the key itself), with its `ETag`."""
    key = await service.get_api_key(session, org, api_key_id)
    return json_response(ApiKeyPublic.model_validate(key), etag_version=key.version)


@org_router.delete("/{organization_id}/api-keys/{api_key_id}", status_code=204, responses=problem_responses(*DELETE),
                   dependencies=[ADMINS])
async def revoke_api_key(session: SessionDep, org: OrganizationDep, api_key_id: uuid.UUID,
                         if_match: IfMatchHeader = None) -> Response:
    """Revoke the key: it stops working immediately."""
    key = await service.get_api_key(session, org, api_key_id)
    await service.revoke_api_key(session, key, if_match)
    return Response(status_code=204)


# ---- users ---------------------------------------------------------------------------------------------------

@user_router.get("", response_model=Page[UserPublic], responses=problem_responses(*LIST),
                 dependencies=[PEOPLE_MANAGERS])
async def list_users(session: SessionDep, principal: PrincipalDep, page: PageDep,
                     organization_id: uuid.UUID | None = None,
                     role: Annotated[Literal["admin", "advisor", "candidate"] | None, Query()] = None) -> Response:
    """Users you manage: all for admins (filter by organization), your organization's for advisors."""
    items, total = await service.list_users(session, principal, page, organization_id, role)
    return page_response(UserPublic, items, total, page)


@user_router.post("", status_code=201, response_model=UserPublic, responses=problem_responses(*WRITE_BODY),
                  dependencies=[PEOPLE_MANAGERS])
async def create_user(session: SessionDep, principal: PrincipalDep, body: UserCreate,
                      idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Create a user. Admins create advisors and admins; advisors create accounts for their candidates."""
    user = await service.create_user(session, principal, body)
    return json_response(UserPublic.model_validate(user), status_code=201, etag_version=user.version,
                         location=f"/v1/users/{user.id}")


@user_router.get("/{user_id}", response_model=UserPublic, responses=problem_responses(*READ))
async def get_user(user: UserDep) -> Response:
    """One user account you manage (or your own), with its `ETag`."""
    return json_response(UserPublic.model_validate(user), etag_version=user.version)


@user_router.patch("/{user_id}", response_model=UserPublic, responses=problem_responses(*UPDATE))
async def update_user(session: SessionDep, principal: PrincipalDep, user: UserDep, body: UserUpdate,
                      if_match: IfMatchHeader = None) -> Response:
    """Change name, password or active flag. Candidates may change their own name and password."""
    user = await service.update_user(session, principal, user, body, if_match)
    return json_response(UserPublic.model_validate(user), etag_version=user.version)


@user_router.delete("/{user_id}", status_code=204, responses=problem_responses(*DELETE), dependencies=[PEOPLE_MANAGERS])
async def delete_user(session: SessionDep, principal: PrincipalDep, user: UserDep,
                      if_match: IfMatchHeader = None) -> Response:
    """Delete a user account (not your own): its sessions end within SESSION_CHECK_SECONDS. `If-Match` required."""
    await service.delete_user(session, principal, user, if_match)
    return Response(status_code=204)


# ---- invitations ---------------------------------------------------------------------------------------------

@invitation_router.post("", status_code=201, response_model=InvitationPublic, responses=problem_responses(*WRITE_BODY),
                        dependencies=[PEOPLE_MANAGERS])
async def create_invitation(session: SessionDep, principal: PrincipalDep,
                            body: InvitationCreate, background: BackgroundTasks,
                            idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Invite someone to an account: admins invite advisors (and candidates), advisors their organization's
    candidates (linked to the candidate record). The invitee gets a one-time token by mail, good for
    INVITATION_DAYS, with which they set their password (`POST /v1/invitations/accept`)."""
    invitation, message = await invitations.invite(session, principal, body)
    background.add_task(mail.send, message)
    return json_response(InvitationPublic.model_validate(invitation), status_code=201,
                         etag_version=invitation.version, location=f"/v1/invitations/{invitation.id}")


@invitation_router.get("/{invitation_id:uuid}", response_model=InvitationPublic,
                        responses=problem_responses(*READ, 403), dependencies=[PEOPLE_MANAGERS])
async def get_invitation(session: SessionDep, principal: PrincipalDep, invitation_id: uuid.UUID) -> Response:
    """One invitation you may see: who was invited, to which role and organization, and until when it can be
    accepted. The token itself is never shown again."""
    invitation = await invitations.get_invitation(session, principal, invitation_id)
    return json_response(InvitationPublic.model_validate(invitation), etag_version=invitation.version)


@public_invitation_router.post("/accept", status_code=201, response_model=UserPublic, openapi_extra={"security": []},
                        responses=problem_responses(400, 404, 409, 413, 415, 422, 503))
async def accept_invitation(session: SessionDep, body: InvitationAccept) -> Response:
    """Accept an invitation with its mailed token and the password you choose: the account is created (sign in
    with it at `POST /v1/auth/token`). An unusable token (unknown, expired, used) is a 404 with `code`
    `invalid_token`, whatever the reason."""
    user = await invitations.accept(session, body)
    return json_response(UserPublic.model_validate(user), status_code=201, etag_version=user.version,
                         location=f"/v1/users/{user.id}")
