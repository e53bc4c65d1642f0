"""bench/read_costs.py prices each per-request feature by switching it off (bench/ablated_app.py). A rename in the
service must break that switch loudly: otherwise the bench would report a gain of zero for a feature it never
switched off. The switches run in a process of their own (they patch the service for good)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.ablated_app import FEATURES

ROOT = Path(__file__).resolve().parents[2]


def test_every_ablation_switches_off_something_the_service_has():
    env = {**os.environ, "ABLATE": ",".join(FEATURES), "ENVIRONMENT": "development"}
    done = subprocess.run([sys.executable, "-c", "import bench.ablated_app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_switch_for_a_name_the_service_lacks_fails(monkeypatch):
    from bench import ablated_app

    class Owner:
        present = 1

    ablated_app._replace(Owner, "present", 2)
    assert Owner.present == 2
    with pytest.raises(AttributeError, match="has no renamed"):
        ablated_app._replace(Owner, "renamed", 3)
