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


def _replace(owner: Any, name: str, value: Any) -> None:
    """Switch a feature off by replacing what does it; a name the service no longer has is an error, not a
    silently added attribute that switches nothing off (tests/unit/test_bench_ablations.py runs every one)."""
    if not hasattr(owner, name):
        raise AttributeError(f"{getattr(owner, '__name__', owner)} has no {name}: update bench/ablated_app.py")
    setattr(owner, name, value)


def _access_log() -> None:
    from app.core import observe

    _replace(observe, "access_line", _none)


def _metrics() -> None:
    from app.core import metrics

    _replace(metrics, "observe_request", _none)


def _audit() -> None:
    from app.core.coalesced import Coalescer

    _replace(Coalescer, "note", _none)


def _budget() -> None:
    from app.core.throttle import Throttle

    _replace(Throttle, "spend_principal", _none_async)


def _session_check() -> None:
    from app.accounts import principal

    _replace(principal, "_check_session", _none_async)


def _observe() -> None:
    from app.core.observe import Observe

    async def passthrough(self: Any, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    _replace(Observe, "__call__", passthrough)


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
