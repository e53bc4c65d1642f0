"""What the service refuses to start with: the development secret (or a short one) anywhere but an explicit
ENVIRONMENT=development, and in production mail written to files; and what it warns about: in production, several
workers each counting throttling on its own."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import DEFAULT_SECRET, Settings

GOOD = {"secret_key": "s" * 40, "smtp_host": "smtp.example.org"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("overrides", "named"), [
    ({"secret_key": DEFAULT_SECRET}, "SECRET_KEY"),
    ({"secret_key": "short"}, "SECRET_KEY"),
    ({"smtp_host": ""}, "SMTP_HOST"),
])
def test_production_refuses(overrides, named):
    with pytest.raises(ValidationError, match=named):
        Settings(_env_file=None, environment="production", **{**GOOD, **overrides})


def test_production_starts_with_a_secret_and_a_mail_server_and_development_needs_neither():
    assert Settings(_env_file=None, environment="production", **GOOD).smtp_host == "smtp.example.org"
    dev = Settings(_env_file=None, environment="development", secret_key=DEFAULT_SECRET, smtp_host="")
    assert dev.mail_dir  # development mail goes to files a developer can read


@pytest.mark.parametrize("secret", [DEFAULT_SECRET, "short-but-not-the-default"])
@pytest.mark.parametrize("environment", [None, "test", "production"])
def test_the_development_secret_is_refused_unless_development_is_said(monkeypatch, environment, secret):
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    given = {} if environment is None else {"environment": environment}
    with pytest.raises(ValidationError, match="SECRET_KEY must be set") as refused:
        Settings(_env_file=None, secret_key=secret, smtp_host="smtp.example.org", **given)
    assert secret not in str(refused.value)  # the error names the setting, not the value


def test_environment_development_from_the_environment_takes_the_development_secret(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("SECRET_KEY", DEFAULT_SECRET)
    assert Settings(_env_file=None).secret_key == DEFAULT_SECRET
    monkeypatch.delenv("ENVIRONMENT")  # left to its default, development is not said
    with pytest.raises(ValidationError, match="ENVIRONMENT=development"):
        Settings(_env_file=None)


def test_a_refused_setting_does_not_print_the_other_values(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:hunter2-db-password@db/app")
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, environment="production", secret_key="s" * 40, smtp_host="",
                 smtp_password="hunter2-smtp-password")
    assert "hunter2" not in str(refused.value)


# ---- the served command line -----------------------------------------------------------------------------------

def _serve_command(port: int) -> str:
    """`make serve`'s recipe from the Makefile, with its variables filled in (a shell command line)."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    recipe = lines[lines.index("serve: install") + 1].strip()
    for name, value in {"$(BIN)": str(Path(sys.executable).parent), "$(HOST)": "127.0.0.1", "$(PORT)": str(port),
                        "$(WORKERS)": "2"}.items():
        recipe = recipe.replace(name, value)
    return recipe.replace("$$", "$")


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ENVIRONMENT", "SECRET_KEY", "TEST_DATABASE_URL", "SMTP_HOST", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/serve.db", PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.mark.parametrize("variant", ["make serve", "its uvicorn alone"])
def test_the_server_refuses_to_start_with_the_development_secret_and_no_environment(tmp_path, variant):
    from bench._scratch import free_port

    command = _serve_command(free_port())
    if variant != "make serve":  # the same uvicorn invocation, without the recipe's ENVIRONMENT=production
        command = re.sub(r"^ENVIRONMENT=\S+ ", "", command)
    assert " --workers 2 " in command and "uvicorn app.main:app" in command, command
    proc = subprocess.Popen(command, shell=True, env=_environment(tmp_path), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 15)
        output, _ = proc.communicate(timeout=30)
        pytest.fail(f"the server started with the development secret:\n{output[-2000:]}")
    assert proc.returncode != 0, output[-2000:]
    assert "SECRET_KEY must be set to a random value of at least 32 characters" in output


def test_several_production_workers_on_memory_counters_each_warn(tmp_path):
    """`make serve` (2 workers) with the default RATE_LIMIT_STORAGE_URL: each worker says every limit is doubled."""
    from bench._scratch import free_port
    from tests.served import wait_live

    port = free_port()
    env = _environment(tmp_path, SECRET_KEY="w" * 40, SMTP_HOST="smtp.invalid", RATE_LIMIT_STORAGE_URL="memory://")
    out = tmp_path / "serve.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(_serve_command(port), shell=True, env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_live(proc, f"http://127.0.0.1:{port}", timeout=60)
            warned = 0
            for _ in range(200):  # the other worker may still be starting
                warned = out.read_text().count("RATE_LIMIT_STORAGE_URL is memory://")
                if warned >= 2:
                    break
                time.sleep(0.1)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
    assert warned == 2, out.read_text()[-3000:]


def test_the_warning_needs_production_memory_counters_and_several_processes(monkeypatch, caplog):
    import multiprocessing

    from app.core import throttle

    def warned(**overrides: str) -> bool:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="matchready.throttle"):
            throttle.Throttle(Settings(_env_file=None, **{**GOOD, "environment": "production", **overrides}))
        return any("RATE_LIMIT_STORAGE_URL is memory://" in r.getMessage() for r in caplog.records)

    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert not warned()  # one process
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert warned()
    assert not warned(rate_limit_storage_url="redis://127.0.0.1:6379/0")
    assert not warned(environment="test")
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())  # a worker of `uvicorn --workers`
    assert warned()


def test_the_development_commands_of_the_makefile_run_with_the_development_settings(tmp_path):
    """`make run` (migrate, seed, serve) is the README's first command: on a fresh machine, with nothing set, it
    runs as development; only `make serve` wants a real SECRET_KEY (test above)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ENVIRONMENT", "SECRET_KEY", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/fresh.db"
    done = subprocess.run(["make", "-s", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "fresh.db").exists()
