"""The deployment files say what the README promises, and a served instance shuts down without failing a request
it took up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

from tests.served import wait_live

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "deployment passphrase 1"
ADVISOR = "advisor@north.demo.test"


def test_the_compose_file_runs_migrations_once_before_the_api_and_the_workers():
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc["services"]
    assert set(services) >= {"db", "migrate", "api", "worker"}
    assert services["migrate"]["command"] == ["python", "-m", "app", "migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert services["worker"]["command"] == ["python", "-m", "app", "worker"]
    assert int(services["api"]["environment"]["WEB_CONCURRENCY"]) > 1
    for name, service in services.items():  # images pinned to a release, and the secret never defaulted
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest") or name in ("migrate", "api", "worker"), image
        env = service.get("environment", {})
        if "SECRET_KEY" in env:
            assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), name


def test_the_dockerfile_pins_its_base_and_owns_its_data_directory():
    text = (ROOT / "Dockerfile").read_text()
    bases = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert bases and all(b.count(".") >= 2 for b in bases), bases  # python:3.11.x-..., not a moving tag
    assert "chown matchready:matchready /srv/var" in text and "USER matchready" in text
    assert "--forwarded-allow-ips ${FORWARDED_ALLOW_IPS}" in text and "FORWARDED_ALLOW_IPS=127.0.0.1" in text
    assert "--timeout-graceful-shutdown" in text


def test_every_way_of_serving_times_out_slow_request_heads():
    """The protocol with the head deadline (app.core.server) on each uvicorn command the project gives."""
    commands = [line for name in ("Dockerfile", "Makefile") for line in (ROOT / name).read_text().splitlines()
                if "uvicorn app.main:app" in line]
    assert len(commands) == 3  # the image, make run, make serve
    assert all("--http app.core.server:HeadTimeoutH11Protocol" in c for c in commands), commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_sigterm_under_load_fails_no_accepted_request(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/graceful.db", ENVIRONMENT="test",
               SECRET_KEY="graceful-test-" + "k" * 40, MATCHREADY_DEMO_PASSWORD=PASSWORD,
               RATE_LIMIT_PER_PRINCIPAL="100000/minute")
    for cmd in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "app", cmd], env=env, cwd=tmp_path, check=True, capture_output=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
                               "--timeout-graceful-shutdown", "20", "--log-level", "warning"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_live(server, base, timeout=30)
        token = httpx.post(base + "/v1/auth/token", data={"username": ADVISOR, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", "Connection": "close"}
        answered: list[int] = []
        failed: list[str] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:  # a fresh connection each time: a refused one was never accepted
                    r = httpx.get(base + "/v1/candidates", params={"limit": 100}, headers=headers, timeout=30)
                    answered.append(r.status_code)
                except httpx.ConnectError:
                    return  # the server stopped accepting: the end of this client's run
                except httpx.HTTPError as exc:  # accepted, then dropped
                    failed.append(repr(exc))
                    return

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        before = len(answered)
        server.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(40)
        stop.set()
        assert server.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    finally:
        if server.poll() is None:
            server.kill()
    assert before > 0 and len(answered) >= before
    # Every request the server took up was answered in full, with a 200 (never a 5xx, never a cut-off body). A
    # connection it had not yet read from when the signal came (in the accept queue: reset; opened but not read:
    # closed) gets no answer at all, not a byte: the client sees it at once, at most once per client, and may
    # retry. That is uvicorn's shutdown, and what a load balancer draining the instance first avoids. A request cut
    # off mid-answer would show as an incomplete body, which fails here.
    assert set(answered) == {200}, sorted(set(answered))
    unanswered = ("without sending a response", "Connection reset by peer")
    assert all(any(u in f for u in unanswered) for f in failed), failed
