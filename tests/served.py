"""For tests that serve the app in a process of their own (uvicorn, several workers, a real socket)."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_live(proc: subprocess.Popen[bytes], base: str, timeout: float = 30.0) -> None:
    """Return once the server at `base` answers `/livez` with 200; fail if it exits first or `timeout` passes
    (start-up on a loaded machine is slow, and is not what these tests measure)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + "/livez", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"the server exited with {proc.returncode} before answering"
        assert time.monotonic() < deadline, f"the server did not answer /livez within {timeout:.0f} s"
        time.sleep(0.1)
