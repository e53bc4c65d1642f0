"""The black-box checks (tests/blackbox.py) pass against a served instance: uvicorn as `make serve` runs it (the
project's HTTP protocol, two workers), demo data, a database of its own (SQLite; under TEST_DATABASE_URL a schema
of its own in that PostgreSQL database)."""

from __future__ import annotations

import os
import subprocess
import sys

from bench._scratch import free_port, scratch_database
from tests import blackbox
from tests.served import wait_live

PASSWORD = "blackbox demo 123"


def test_the_black_box_checks_pass_against_a_served_instance(tmp_path, capsys):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    pg = os.environ.get("TEST_DATABASE_URL")
    url = scratch_database(pg, "blackbox") if pg else f"sqlite:///{tmp_path}/blackbox.db"
    env.update(DATABASE_URL=url, ENVIRONMENT="test", MATCHREADY_DEMO_PASSWORD=PASSWORD,
               SECRET_KEY="blackbox-test-" + "k" * 40, SESSION_CHECK_SECONDS="1", HEADER_READ_TIMEOUT_SECONDS="1")
    for cmd in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "app", cmd], env=env, cwd=tmp_path, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--workers", "2",
                               "--http", "app.core.server:HeadTimeoutH11Protocol", "--no-server-header",
                               "--log-level", "warning"], env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_live(server, base, timeout=40)
        code = blackbox.main([base, "--admin-email", "admin@demo.test", "--admin-password", PASSWORD,
                              "--session-bound", "1", "--head-timeout", "1"])
    finally:
        server.terminate()
        server.wait(timeout=20)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out and " checks passed" in out
