"""The scheduled purge of credentials that can no longer be used: sign-in sessions and refresh tokens past their
expiry, password reset tokens past theirs, and invitations `INVITATION_KEEP_DAYS` after theirs (until then the
office still sees them listed as expired). An expired row opens nothing; keeping it would only keep who signed in
from where, which the audit trail records already. A purge is retention, not a change to anyone's record: no event, no
audit row (app.core.changes.RETENTION_PURGE)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select

from app.accounts.models import AuthSession, Invitation, PasswordReset, RefreshToken
from app.core.changes import RETENTION_PURGE
from app.core.crud import rows_changed
from app.core.db import db, utcnow
from app.worker import job

INVITATION_KEEP_DAYS = 30
_BATCH = 5000


def _table(model: Any) -> Table:
    return model.__table__


def _cutoffs(now: datetime) -> list[tuple[Table, datetime]]:
    # refresh tokens before their sessions (a session's tokens never outlive it; the foreign key cascades too)
    return [(_table(RefreshToken), now), (_table(AuthSession), now), (_table(PasswordReset), now),
            (_table(Invitation), now - timedelta(days=INVITATION_KEEP_DAYS))]


@job("accounts.purge", idle_seconds=600)
async def purge_expired_credentials() -> int:
    """Deletes at most one batch of each; the worker calls again at once while there were any."""
    done = 0
    async with db.session() as session:
        for table, before in _cutoffs(utcnow()):
            oldest = select(table.c.id).where(table.c.expires_at < before).order_by(table.c.id).limit(_BATCH)
            result = await session.execute(delete(table).where(table.c.id.in_(oldest.scalar_subquery()))
                                           .execution_options(**RETENTION_PURGE))
            done += rows_changed(result)
        await session.commit()
    return done
