"""Clients generated from the committed contract build cleanly: a TypeScript one (openapi-typescript) under
`tsc --strict`, a Python one (openapi-python-client) under `mypy --strict`. Each also compiles a few lines of use
that must type-check, and a few misuses the per-type schemas must refuse.

The TypeScript tools are the project's devDependencies (package.json, pinned in package-lock.json), installed
with `npm ci` into ./node_modules when missing or stale. Without Node.js the TypeScript test is skipped, except
under CI=true where it fails. The document does not depend on the database: these run on the SQLite pass only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.__main__ import OPENAPI_PATH

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="the generated clients depend on the document only, not on the database: checked on the SQLite pass")


def run(*cmd: str | Path, cwd: Path = ROOT, timeout: int = 300) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{output[-6000:]}"
    return output


def node_tools() -> Path:
    """./node_modules/.bin, installed from package-lock.json when missing or stale."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js (node and npm) is required under CI=true for the generated TypeScript client")
        pytest.skip("Node.js is not installed: the TypeScript client is not checked (under CI=true it must be)")
    lock, installed = ROOT / "package-lock.json", ROOT / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run("npm", "ci", "--no-audit", "--no-fund")
    return ROOT / "node_modules" / ".bin"


TS_USE = """\
import type { components, paths } from "./api";

type Schemas = components["schemas"];
type Create = paths["/v1/candidates/{candidate_id}/milestones"]["post"];
type CreateBody = NonNullable<Create["requestBody"]>["content"]["application/json"];

export const step: CreateBody = {
  type_code: "usmle_step2ck", status: "passed", completed_on: "2026-08-14", result: { score: 241 } };
export const oet: Schemas["MilestoneCreate"] = {
  type_code: "oet_medicine", status: "passed", completed_on: "2026-03-02",
  result: { listening: 350, reading: 360, writing: 340, speaking: 370 } };
export const task: Schemas["MilestoneCreate"] = { type_code: "nrmp_registration", status: "completed",
  completed_on: "2026-01-15" };
// @ts-expect-error: a Step takes a score, not a Pathway
export const wrongResult: Schemas["MilestoneCreate"] = { type_code: "usmle_step2ck", result: { pathway: "1" } };
// @ts-expect-error: an exam is passed or failed, never completed
export const wrongStatus: Schemas["MilestoneCreate"] = { type_code: "usmle_step1", status: "completed" };
// @ts-expect-error: a task is completed, never passed
export const wrongTask: Schemas["MilestoneCreate"] = { type_code: "visa", status: "passed" };

export function describe(m: Schemas["MilestonePublic"]): string {
  if (m.type_code === "usmle_step3") {
    return `Step 3: ${m.result?.score ?? "no score"}`;
  }
  return m.type_code;
}
export const notFound: Schemas["Problem"] = { type: "/problems/not-found", title: "Not found", status: 404 };
"""


def test_typescript_client_compiles_under_strict(tmp_path: Path) -> None:
    tools = node_tools()
    run(tools / "openapi-typescript", OPENAPI_PATH, "--output", tmp_path / "api.ts", "--default-non-nullable",
        "false")
    (tmp_path / "use.ts").write_text(TS_USE, encoding="utf-8")
    run(tools / "tsc", "--strict", "--noEmit", "--target", "es2022", "--module", "esnext", "--moduleResolution",
        "bundler", tmp_path / "api.ts", tmp_path / "use.ts")


PY_USE = """\
import datetime

from matchready_client.models.milestone_create_step_score_exam import MilestoneCreateStepScoreExam
from matchready_client.models.milestone_create_step_score_exam_status import MilestoneCreateStepScoreExamStatus
from matchready_client.models.milestone_create_step_score_exam_type_code import (
    MilestoneCreateStepScoreExamTypeCode,
)
from matchready_client.models.milestone_result_pathway import MilestoneResultPathway
from matchready_client.models.milestone_result_step_score import MilestoneResultStepScore

step = MilestoneCreateStepScoreExam(
    type_code=MilestoneCreateStepScoreExamTypeCode.USMLE_STEP2CK, status=MilestoneCreateStepScoreExamStatus.PASSED,
    completed_on=datetime.date(2026, 8, 14), result=MilestoneResultStepScore(score=241))
body: dict[str, object] = step.to_dict()
wrong = MilestoneCreateStepScoreExam(
    type_code=MilestoneCreateStepScoreExamTypeCode.USMLE_STEP1,
    result=MilestoneResultPathway(),  # type: ignore[arg-type]  # a Step takes a score, not a Pathway
)
"""


def test_python_client_passes_mypy_strict(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    # no post-hooks: the client is checked as generated, not as a formatter of this machine rewrites it
    config.write_text("post_hooks: []\n", encoding="utf-8")
    out = tmp_path / "matchready_client"  # with `--meta none`, the package itself
    log = run(BIN / "openapi-python-client", "generate", "--path", OPENAPI_PATH, "--output-path", out,
              "--meta", "none", "--config", config)
    # The one thing it cannot generate is the NDJSON of imports and exports (its JSON form is generated).
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    ndjson = re.findall(r"Unsupported content[ _]type application/x-ndjson", log)
    assert len(warnings) == len(ndjson), log[-4000:]
    (tmp_path / "use_client.py").write_text(textwrap.dedent(PY_USE), encoding="utf-8")
    run(BIN / "mypy", "--strict", "--cache-dir", tmp_path / "mypy-cache", "--config-file", os.devnull,
        "matchready_client", "use_client.py", cwd=tmp_path)
