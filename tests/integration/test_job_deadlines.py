"""One-off steps end at their own deadline (services/specs.py `step_deadline`), whatever they are
waiting for: their exit code and message, not the job runner's timeout, are what the deploy reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.specs import Endpoints, clickhouse_ready
from team_plane.job import DEADLINE_VAR, TIMED_OUT
from tests.integration.test_cloud_init_schema import require_tool
from tests.support.hosts import STAGING_ENDPOINTS
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("step", ["plan", "verify"])
def test_a_step_stuck_outside_its_requests_ends_at_its_deadline(tmp_path, step):
    document = tmp_path / "desired.json"
    os.mkfifo(document)  # reading it blocks: nobody ever writes (a read that hangs, not a request)
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; from team_plane import job; sys.exit(job.main(['job', '{step}']))"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), DEADLINE_VAR: "2",
             "LLM_GATEWAY_TEAM_DOCUMENT": str(document), "LLM_GATEWAY_TEAM_PLANE_WORK": str(tmp_path)},
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == TIMED_OUT
    assert result.stderr.strip() == f"llm-gateway team plane: the {step} step ran out of its 2 s deadline"


def test_the_clickhouse_probe_gives_up_at_the_deadline_in_its_environment():
    endpoints = Endpoints(**{**STAGING_ENDPOINTS.__dict__, "clickhouse_host": "127.0.0.2"})  # nothing listens there
    probe = clickhouse_ready(make_settings(compute="ecs"), endpoints)
    assert int(probe.environment[DEADLINE_VAR]) > 0
    result = subprocess.run([require_tool("node"), *probe.entrypoint[1:]], env={**probe.environment, DEADLINE_VAR: "1"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip() == "llm-gateway: ClickHouse at http://127.0.0.2:8123/ping did not answer within 1 s"
