"""The contract as a contract-testing pipeline sees it: the schemathesis CLI against the served /openapi.json.

Serves the app with uvicorn on a free port, on a scratch SQLite database loaded with the demo data, signs in as the
demo admin, and runs `schemathesis run` with every check, positive and negative data and every phase (examples,
coverage, fuzzing, stateful), without hooks of this project. The only deviation from schemathesis' defaults: the
documented optimistic-concurrency preconditions (412 for a stale `If-Match`, 428 for a missing one) are accepted
answers. Prints, and returns as JSON with `--json`, the failing operations and how many of the served links the
stateful phase covered.

    python -m tests.contract.external_run --max-examples 60

The served instance is configured as a test deployment would be: request budgets and the sign-in throttle are
raised (thousands of requests a minute from one caller are the point here), and the token outlives the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, get_args

import httpx
from pydantic_core.core_schema import ErrorType

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "external run passphrase 1"
PRECONDITIONS = ["412", "428"]
DEFAULTS_POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis' own
DEFAULTS_MISSING_HEADER = ["400", "401", "403", "406", "415", "422"]
# pydantic's error types that a JSON Schema states (type, bounds, pattern, enum, unknown field, ...): a schema-valid
# request refused with one of these means the document and the validation disagree. Not the types that compare
# with today (`date_past`, ...): a JSON Schema has no today to compare with.
SCHEMA_EXPRESSIBLE = set(get_args(ErrorType)) - {"value_error", "assertion_error", "missing", "custom_error",
                                                 "date_past", "date_future", "datetime_past", "datetime_future"}


def config_text(advisor: str, admin: str, spare: str) -> str:
    """The pipeline's configuration: credentials per operation (an organization's advisor; the admin for the
    organization and user functions; a spare session for logout and the functions on one's own sessions, which
    end the session they are sent with or the others), the
    documented preconditions, and stateful sequences over the links the service serves (not those schemathesis
    would guess from field names)."""
    return f"""\
headers = {{ Authorization = "Bearer {advisor}" }}

[[operations]]
include-tag = "organizations"
headers = {{ Authorization = "Bearer {admin}" }}

[[operations]]
include-tag = "users"
headers = {{ Authorization = "Bearer {admin}" }}

[[operations]]
include-path-regex = "^/v1/auth/(logout|sessions)"
headers = {{ Authorization = "Bearer {spare}" }}

[checks.positive_data_acceptance]
expected-statuses = {json.dumps(DEFAULTS_POSITIVE + PRECONDITIONS)}

[checks.missing_required_header]
expected-statuses = {json.dumps(DEFAULTS_MISSING_HEADER + ["428"])}

[phases.stateful.inference]
algorithms = []
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def served_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEMATHESIS_", "TEST_DATABASE"))}
    env.update({
        "DATABASE_URL": database_url, "ENVIRONMENT": "development", "MATCHREADY_DEMO_PASSWORD": PASSWORD,
        "RATE_LIMIT_PER_PRINCIPAL": "1000000/minute", "RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "SIGN_IN_FAILURES_PER_ACCOUNT": "1000000/minute", "SIGN_IN_FAILURES_PER_ADDRESS": "1000000/minute",
        "ACCESS_TOKEN_MINUTES": "1440", "WORKER_IN_PROCESS": "false", "LOG_LEVEL": "WARNING",
    })
    return env


def count_links(document: dict[str, Any]) -> int:
    return sum(len(r.get("links", {})) for item in document["paths"].values() for op in item.values()
               for r in op.get("responses", {}).values())


def run(max_examples: int, *, seed: int, workers: int, stateful_steps: int | None = None,
        report_dir: Path | None = None, verbose: bool = False) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="external-run-"))
    report_dir = report_dir or work
    env = served_env(f"sqlite:///{work}/served.db")
    for step in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "app", step], cwd=work, env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
                               str(port), "--no-access-log", "--log-level", "warning"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the service did not start:\n{(work / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        def token(email: str) -> str:
            r = httpx.post(f"{base}/v1/auth/token", data={"username": email, "password": PASSWORD})
            r.raise_for_status()
            return str(r.json()["access_token"])

        links = count_links(httpx.get(f"{base}/openapi.json").json())
        config = work / "schemathesis.toml"
        config.write_text(config_text(token("advisor@north.demo.test"), token("admin@demo.test"),
                                      token("advisor@north.demo.test")), encoding="utf-8")
        ndjson = report_dir / "events.ndjson"
        cmd = [str(BIN / "schemathesis"), "--config-file", str(config), "run", f"{base}/openapi.json",
               "--checks", "all", "--mode", "all", "--max-examples", str(max_examples), "--seed", str(seed),
               "--generation-deterministic", "--workers", str(workers),
               "--no-color", "--output-truncate", "false",
               "--report", "ndjson", "--report-ndjson-path", str(ndjson)]
        started = time.monotonic()
        done = subprocess.run(cmd, cwd=work, env={k: v for k, v in os.environ.items()
                                                  if not k.startswith("SCHEMATHESIS_")},
                              capture_output=True, text=True)
        elapsed = time.monotonic() - started
        (report_dir / "schemathesis.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
        if verbose:
            print(done.stdout[-20000:])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return summarize(done.stdout, ndjson, links, elapsed, done.returncode)


def summarize(output: str, ndjson: Path, links: int, elapsed: float, returncode: int) -> dict[str, Any]:
    """Failing operations from the run's events; link coverage from the CLI's summary of the stateful phase."""
    failing: set[str] = set()
    for line in ndjson.read_text(encoding="utf-8").splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if finished and finished["status"] in ("failure", "error"):
            failing.add(finished["recorder"]["label"])
    found = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", output)
    if found is None:
        raise RuntimeError(f"no link coverage in the output of schemathesis:\n{output[-3000:]}")
    return {"returncode": returncode, "failing_operations": sorted(failing), "failures": failures(output),
            "links_served": links,
            "links_selected": int(found.group(2)), "links_covered": int(found.group(1)), "seconds": round(elapsed),
            "tail": output[-6000:]}


def failures(output: str) -> dict[str, list[dict[str, Any]]]:
    """Per failing operation (as the CLI prints them): each failed check's name, and the status and body of the
    answer that failed it."""
    found: dict[str, list[dict[str, Any]]] = {}
    section = output.split("=== FAILURES ===", 1)[-1] if "=== FAILURES ===" in output else ""
    # each operation's block is headed `____ LABEL ____`, the rules dropped when the label fills the line
    parts = re.split(r"\n_* ((?:[A-Z]+ /\S*|Stateful tests)) _*\n", section)
    for label, block in zip(parts[1::2], parts[2::2], strict=True):
        for case in re.split(r"\n\d+\. Test Case ID: \S+\n", "\n" + block)[1:]:
            checks = re.findall(r"^- (.+)$", case, flags=re.M)
            answer = re.search(r"^\[(\d{3})\] [^\n]*:\n\n    `(.*)`$", case, flags=re.M)
            body: Any = None
            if answer:
                try:
                    body = json.loads(answer.group(2))
                except ValueError:
                    body = answer.group(2)
            found.setdefault(label, []).append({"checks": checks, "status": int(answer.group(1)) if answer else None,
                                                "body": body})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    result = run(args.max_examples, seed=args.seed, workers=args.workers, report_dir=args.report_dir,
                 verbose=args.verbose)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "tail"}))
    else:
        print(result["tail"])
        print(f"failing operations: {len(result['failing_operations'])}")
        for label in result["failing_operations"]:
            print(f"  {label}")
        share = result["links_covered"] / result["links_served"] if result["links_served"] else 0
        print(f"links covered by the stateful phase: {result['links_covered']} of {result['links_served']} "
              f"({share:.0%}); {result['seconds']} s")
    return 0 if not result["failing_operations"] else 1


if __name__ == "__main__":
    sys.exit(main())
