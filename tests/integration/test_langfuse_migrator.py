"""langfuse-migrator as the container runs it: the image's entrypoint (transcribed, under busybox sh)
migrates, then execs the spec's command, which must prove both schemas current or fail the job; with
the password the spec injects, whatever characters it holds (tests/support/langfuse_web_image.py)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from services.langfuse_schema import CURRENT, url_query_value
from services.specs import PLACEHOLDER_ENDPOINTS, langfuse_migrator
from tests.support.langfuse_web_image import (
    LATEST_CLICKHOUSE_MIGRATION,
    OPT_IN_CLICKHOUSE,
    OPT_IN_POSTGRES,
    build_image,
    fake_clickhouse,
)
from tests.support.settings import make_settings
from tests.support.variants import EXTERNAL_CLICKHOUSE

pytestmark = pytest.mark.integration

# Every character up.sh's URL would cut or change (`&`, `#`, `+`, `%`, `;`, space), and a few it would not.
AWKWARD_PASSWORD = "p&ss#w+rd%20;x y=z?@!"


def run_migrator(tmp_path, *, password: str = "Alphanumeric0123456789abcdefghij", user: str = "langfuse",
                 external: bool = False, recorded: dict | None = None, injected: str | None = None,
                 **switches: str) -> subprocess.CompletedProcess:
    """Run the migrator spec's command through the image's entrypoint; the databases start empty
    unless `recorded` gives ClickHouse's latest schema_migrations row."""
    app = build_image(tmp_path, **switches)
    state = tmp_path / "state"
    (state / "clickhouse-users.json").write_text(json.dumps({user: password}))
    if recorded is not None:
        (state / "clickhouse.json").write_text(json.dumps(recorded))
    settings = make_settings(compute="ecs", **({
        "clickhouse": {**EXTERNAL_CLICKHOUSE, "externalUser": user}, "secrets": {"clickhouseExternalPassword": password},
    } if external else {}))
    spec = langfuse_migrator(settings, PLACEHOLDER_ENDPOINTS)
    # The secrets as ECS injects them: CLICKHOUSE_PASSWORD from the key the spec names.
    assert spec.secrets["CLICKHOUSE_PASSWORD"].key == "passwordForUrl"
    with fake_clickhouse(state) as clickhouse_url:
        env = {
            "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
            **spec.environment,
            "CLICKHOUSE_URL": clickhouse_url,  # the fake answers plain HTTP
            "DATABASE_URL": "postgresql://langfuse:secret@postgres.db.internal:5432/langfuse?sslmode=require",
            # What platform_secrets stores as passwordForUrl, unless the test injects another value.
            "CLICKHOUSE_PASSWORD": url_query_value(password) if injected is None else injected,
        }
        return subprocess.run([str(tmp_path / "bin/sh"), "web/entrypoint.sh", *spec.command], cwd=app, env=env,
                              capture_output=True, text=True, timeout=60)


def test_a_migrated_stack_passes_with_both_schemas_checked(tmp_path):
    result = run_migrator(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Database schema is up to date!" in result.stdout
    assert f"ClickHouse schema at version {LATEST_CLICKHOUSE_MIGRATION}, not dirty" in result.stdout
    assert CURRENT in result.stdout


def test_a_renamed_switch_that_skips_the_migrations_fails_the_job(tmp_path):
    # A later entrypoint that migrates only when asked, under switch names this stack does not set.
    result = run_migrator(tmp_path, postgres_switch=OPT_IN_POSTGRES, clickhouse_switch=OPT_IN_CLICKHOUSE)
    assert result.returncode != 0
    assert "have not yet been applied" in result.stdout
    assert CURRENT not in result.stdout


@pytest.mark.parametrize(("recorded", "reason"), [
    (None, "ClickHouse records no migration"),
    ({"version": 44, "dirty": 0}, f"ClickHouse schema is at version 44, the image's migrations end at {LATEST_CLICKHOUSE_MIGRATION}"),
    ({"version": 45, "dirty": 1}, "ClickHouse schema is dirty at version 45"),
])
def test_a_clickhouse_schema_left_behind_or_dirty_fails_the_job(tmp_path, recorded, reason):
    # Postgres migrates; ClickHouse's step is skipped (its switch renamed), leaving what was recorded.
    result = run_migrator(tmp_path, recorded=recorded, clickhouse_switch=OPT_IN_CLICKHOUSE)
    assert result.returncode != 0
    assert reason in result.stderr
    assert CURRENT not in result.stdout


def test_an_external_password_with_url_characters_reaches_clickhouse_intact(tmp_path):
    result = run_migrator(tmp_path, password=AWKWARD_PASSWORD, user="lf_ops", external=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert CURRENT in result.stdout


def test_the_raw_password_would_break_the_migration_url(tmp_path):
    # What the migrator got before: the secret's plain password, which up.sh's URL cuts at '&'.
    result = run_migrator(tmp_path, password=AWKWARD_PASSWORD, user="lf_ops", external=True, injected=AWKWARD_PASSWORD)
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr
