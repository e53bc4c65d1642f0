"""The change feed's housekeeping: events older than the retention period (at least 30 days) are purged."""

from __future__ import annotations

from sqlalchemy import delete, select

from app.core.crud import rows_changed
from app.core.db import db
from app.core.models import table_of
from app.events.models import Event
from app.events.service import retention_cutoff
from app.worker import job

_T = table_of(Event)
_BATCH = 5000


@job("events.purge", idle_seconds=3600)
async def purge_expired_events() -> int:
    """Deletes at most one batch of expired events; the worker calls again at once while there are more."""
    async with db.session() as session:
        oldest = select(_T.c.seq).where(_T.c.occurred_at < retention_cutoff()).order_by(_T.c.seq).limit(_BATCH)
        result = await session.execute(delete(_T).where(_T.c.seq.in_(oldest.scalar_subquery())))
        await session.commit()
        return rows_changed(result)
