"""The service with per-request features switched off, for bench/read_costs.py only: `ABLATE` names them, comma
separated (see FEATURES). Nothing here is importable by the service; it exists to price each feature on a read."""

from __future__ import annotations

import os
from typing import Any

from app.main import app  # noqa: F401  (served)


async def _none_async(*_: Any, **__: Any) -> None:
    return None


def _none(*_: Any, **__: Any) -> None:
    return None


def _access_log() -> None:
    from app.core import observe

    observe.access_line = _none  # type: ignore[assignment]


def _metrics() -> None:
    from app.core import metrics

    metrics.observe_request = _none  # type: ignore[assignment]


def _audit() -> None:
    from app.core.coalesced import Coalescer

    Coalescer.note = _none  # type: ignore[method-assign]


def _budget() -> None:
    from app.core.throttle import Throttle

    Throttle.spend_principal = _none_async  # type: ignore[method-assign]


def _session_check() -> None:
    from app.accounts import principal

    principal._check_session = _none_async  # type: ignore[assignment]


def _observe() -> None:
    from app.core.observe import Observe

    async def passthrough(self: Any, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    Observe.__call__ = passthrough  # type: ignore[method-assign]


FEATURES = {  # name: (what it is, how it is switched off)
    "access_log": ("the access log line", _access_log),
    "metrics": ("the request metrics", _metrics),
    "audit": ("the read's audit note", _audit),
    "budget": ("the per-principal request budget", _budget),
    "session_check": ("the check that the token's session still stands", _session_check),
    "observe": ("request id, security headers, access log and metrics (the whole Observe middleware)", _observe),
}

for _name in filter(None, os.environ.get("ABLATE", "").split(",")):
    FEATURES[_name][1]()
