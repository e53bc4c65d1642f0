"""`python -m app.matching INPUT.json [--trace] [--json]`, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.matching import run_from_dict

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE: dict[str, Any] = {
    "programs": [
        {"id": "mercy", "positions": 2, "rank_order_list": ["chen", "ford"]},
        {"id": "city", "positions": 2, "rank_order_list": ["eastman", "anderson", "chen", "davis", "ford"]},
        {"id": "general", "positions": 2, "rank_order_list": ["eastman", "anderson", "ford", "davis"]},
    ],
    "applicants": [
        {"id": "anderson", "rank_order_list": ["city"]},
        {"id": "chen", "rank_order_list": ["city", "mercy"]},
        {"id": "ford", "rank_order_list": ["city", "general", "mercy"]},
        {"id": "davis", "rank_order_list": ["mercy", "city", "general"]},
        {"id": "eastman", "rank_order_list": ["city", "mercy", "general"]},
    ],
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.matching", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_summary(tmp_path: Path) -> None:
    path = tmp_path / "match.json"
    path.write_text(json.dumps(EXAMPLE))
    proc = run_cli(str(path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "status:      complete" in out
    assert "applicants:  5 (5 matched, 0 unmatched)" in out
    assert "programs:    3 with 6 positions (5 filled, 1 unfilled)" in out
    assert "stability:   stable (0 blocking pairs, 0 blocking couple pairs)" in out
    assert "time:" in out and " ms" in out
    assert "trace:" not in out


def test_trace(tmp_path: Path) -> None:
    path = tmp_path / "match.json"
    path.write_text(json.dumps(EXAMPLE))
    proc = run_cli(str(path), "--trace")
    assert proc.returncode == 0, proc.stderr
    assert "trace:" in proc.stdout
    assert "1. anderson applies to city (anderson's 1st choice)." in proc.stdout
    assert "city prefers eastman to chen: chen is removed and eastman is tentatively held." in proc.stdout


def test_json_output_is_the_full_result(tmp_path: Path) -> None:
    path = tmp_path / "match.json"
    path.write_text(json.dumps(EXAMPLE))
    proc = run_cli(str(path), "--json", "--trace")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == run_from_dict(EXAMPLE, trace=True)


def test_invalid_input_exits_1_with_problems(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(EXAMPLE))
    bad["programs"][0]["positions"] = -2
    bad["applicants"][0]["rank_order_list"] = ["state"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    proc = run_cli(str(path))
    assert proc.returncode == 1
    assert "programs[0].positions: must be 0 or more, got -2 [negative_positions]" in proc.stderr
    assert "applicants[0].rank_order_list[0]: no program has id 'state' [unknown_id]" in proc.stderr


def test_unreadable_file_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    proc = run_cli(str(path))
    assert proc.returncode == 1
    assert "cannot read" in proc.stderr
    assert run_cli(str(tmp_path / "missing.json")).returncode == 1
