"""Prints what the contract tests actually ran: requests per operation and the statuses they got."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    module = sys.modules.get("tests.contract.test_schemathesis")
    run = getattr(module, "RUN", None)
    if not run:
        return
    status = module.STATUS  # type: ignore[union-attr]
    fuzz = {k: v for k, v in run.items() if not k.startswith("stateful ")}
    stateful = {k: v for k, v in run.items() if k.startswith("stateful ")}
    terminalreporter.section("schemathesis: requests per operation")
    terminalreporter.write_line(f"CONTRACT_MAX_EXAMPLES={module.MAX_EXAMPLES}; "  # type: ignore[union-attr]
                                f"{len(fuzz)} operations, {sum(fuzz.values())} requests; "
                                f"stateful: {sum(stateful.values())} requests over {len(stateful)} operations")
    for label, n in sorted(run.items()):
        statuses = " ".join(f"{s}x{c}" for s, c in sorted(status[label].items()))
        terminalreporter.write_line(f"  {n:5d}  {label}   [{statuses}]")
