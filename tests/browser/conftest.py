"""The browser tests need the Debian Chromium and its chromedriver (`make browser` installs them as root).

Without them the tests skip, with a banner at the end of the run that says so; under CI=true they fail instead, so
a machine without a browser can never pass CI by skipping."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def missing() -> list[str]:
    out = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if importlib.util.find_spec("selenium") is None:
        out.append("the selenium package (pip install -e '.[dev]')")
    return out


_skipped: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def browser_available() -> None:
    gone = missing()
    if not gone:
        return
    reason = f"browser tests need {', '.join(gone)}: run `make browser` as root (Debian: chromium chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " -- CI=true, so a missing browser fails the run", pytrace=False)
    _skipped.append(reason)
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        bar = "!" * 100
        terminalreporter.write_line("")
        terminalreporter.write_line(bar, red=True)
        terminalreporter.write_line(f"!! the BROWSER TESTS were SKIPPED: {_skipped[0]}", red=True)
        terminalreporter.write_line("!! Under CI=true this fails the run.", red=True)
        terminalreporter.write_line(bar, red=True)
