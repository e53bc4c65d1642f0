"""The import job of the worker (app.worker): applies the items of the oldest unfinished import, a batch a turn."""

from __future__ import annotations

from app.imports.service import run_batch
from app.worker import job


@job("imports.apply", idle_seconds=0.5)
async def apply_imports() -> int:
    return await run_batch()
