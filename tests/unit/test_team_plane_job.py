"""The team-plane job's plan and verify steps against the project's fakes: LiteLLM's team admin API
(tests/support/fake_litellm_admin.py) and Langfuse's GET /api/public/projects
(tests/support/fake_langfuse.py, one project per key pair). Secrets and the document come from
in-memory stand-ins of S3 and Secrets Manager."""

from __future__ import annotations

import hashlib

import pytest

from renderers.team_document import KeySecret, render_team_document, team_document
from team_plane import job
from team_plane.embed import BOOTSTRAP, code, code_key, entrypoint_environment
from team_plane.langfuse import fast_hash, langfuse_sql, TeamKeys
from tests.support.fake_langfuse import running_fake_langfuse
from tests.support.fake_litellm_admin import running_fake_admin
from team_plane.http import Deadline
from tests.support.clock import FakeClock
from tests.support.litellm_proxy import free_port, random_master_key
from tests.support.settings import make_settings

MASTER_KEY = random_master_key()
SALT = "c2FsdA=="
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-gateway-stg/langfuse-keys/teams/{}-AbCdEf"
FAST = {"retry_delays": (0.01,), "sleep": lambda _s: None}


def pair(team: str) -> dict[str, str]:
    return {"publicKey": f"pk-lf-{team}", "secretKey": f"sk-lf-secret-of-{team}"}


TEAMS = [
    {"name": "mle", "models": ["sonnet"], "maxBudget": 100, "budgetDuration": "30d", "rpmLimit": 60},
    {"name": "risk", "models": ["sonnet"]},
]


def document_text(teams=TEAMS, existing=()) -> str:
    settings = make_settings(teams=teams)
    keys = {team.name: KeySecret(ARN.format(team.name), f"v-{team.name}") for team in settings.teams}
    document = team_document(settings, keys, KeySecret(ARN.format("platform"), "v-p"))
    for team in document["teams"]:
        if team["name"] in existing:  # as team_document writes it for existingLangfuseKeys
            team["langfuseKeys"] = "existing"
    return render_team_document(document)


class Secrets:
    def __init__(self, broken=()):
        self.broken = set(broken)

    def __call__(self, arn: str, version: str):
        team = version.removeprefix("v-")
        if team in self.broken:
            raise RuntimeError("AccessDeniedException")  # nothing secret in what a failure says
        return pair(team)


@pytest.fixture
def admin():
    with running_fake_admin(MASTER_KEY) as fake:
        yield fake


def env(admin, langfuse_url="http://127.0.0.1:9") -> dict[str, str]:
    return {"LLM_GATEWAY_TEAM_DOCUMENT": "s3://bucket/team-plane/desired.json", "LITELLM_INTERNAL_URL": admin.url,
            "LITELLM_MASTER_KEY": MASTER_KEY, "SALT": SALT, "LANGFUSE_ORG_ID": "llm-gateway",
            "LANGFUSE_ORG_NAME": "Acme", "LANGFUSE_INTERNAL_URL": langfuse_url}


def run(admin, tmp_path, text, secrets=None, projects=None):
    """plan, then verify against a fake Langfuse that knows `projects` (default: every team's pair)."""
    secrets = secrets or Secrets()
    record = job.plan(env(admin), str(tmp_path), read=lambda _l: text, fetch=secrets, **FAST)
    if projects is None:
        projects = {pair(t)["publicKey"]: (pair(t)["secretKey"], t) for t in record["teams"]}
    with running_fake_langfuse(projects) as langfuse:
        lines, ok = job.verify(env(admin, langfuse.url), str(tmp_path), read=lambda _l: text, fetch=secrets, **FAST)
    return record, lines, ok


def test_create_marks_teams_and_reports_them(admin, tmp_path):
    record, lines, ok = run(admin, tmp_path, document_text())

    assert ok
    assert lines == [
        "team mle: created (litellm team created; langfuse project mle, keys verified)",
        "team risk: created (litellm team created; langfuse project risk, keys verified)",
    ]
    assert admin.teams["mle"]["metadata"] == {"managed-by": "llm-gateway"}
    assert (admin.teams["mle"]["max_budget"], admin.teams["mle"]["rpm_limit"]) == (100.0, 60)
    sql = (tmp_path / "langfuse.sql").read_text()
    assert fast_hash(pair("mle")["secretKey"], SALT) in sql
    assert (tmp_path / "langfuse.sql").stat().st_mode & 0o077 == 0  # it holds secret keys


def test_a_second_run_changes_nothing(admin, tmp_path):
    text = document_text()
    run(admin, tmp_path, text)
    writes = len([r for r in admin.requests if r.method == "POST"])

    _, lines, ok = run(admin, tmp_path, text)

    assert ok and all(": unchanged (" in line for line in lines), lines
    assert len([r for r in admin.requests if r.method == "POST"]) == writes


def test_adopts_a_hand_made_team_and_updates_only_what_differs(admin, tmp_path):
    admin.add_team("mle", team_alias="mle", models=["sonnet"], max_budget=100.0, budget_duration="30d",
                   rpm_limit=5, metadata={"cost_center": "42"})

    _, lines, ok = run(admin, tmp_path, document_text())

    updates = [r.body for r in admin.requests if r.path == "/team/update"]
    assert updates == [{"team_id": "mle", "rpm_limit": 60, "metadata": {"cost_center": "42", "managed-by": "llm-gateway"}}]
    assert ok and lines[0].startswith("team mle: adopted (")


def test_drift_that_disables_logging_is_undone(admin, tmp_path):
    text = document_text()
    run(admin, tmp_path, text)
    admin.teams["mle"]["metadata"].update(logging=[], callback_settings={"success_callback": []})

    _, lines, ok = run(admin, tmp_path, text)

    assert admin.teams["mle"]["metadata"] == {"managed-by": "llm-gateway"}
    assert ok and lines[0] == ("team mle: updated (litellm team updated (logging override removed); "
                               "langfuse project mle, keys verified)")


def test_removes_only_managed_teams_that_left_the_document(admin, tmp_path):
    run(admin, tmp_path, document_text())
    admin.add_team("by-hand", team_alias="by-hand")  # made in the admin UI: never ours to remove

    _, lines, ok = run(admin, tmp_path, document_text(teams=TEAMS[:1]))

    assert set(admin.teams) == {"mle", "by-hand"}
    assert ok and lines[-1] == "team risk: removed (litellm team deleted)"
    sql = (tmp_path / "langfuse.sql").read_text()
    assert "p.id NOT IN ('mle')" in sql and "SET deleted_at = now()" in sql  # stg: the project goes


def test_partial_failure_reconciles_the_others_and_fails_with_a_report(admin, tmp_path):
    teams = [*TEAMS, {"name": "ops", "models": ["sonnet"], "maxBudget": 5, "budgetDuration": "30d"}]
    text = document_text(teams=teams)

    def refuse_ops(request):  # LiteLLM rejects one team's request
        if request.path == "/team/new" and request.body["team_id"] == "ops":
            request.body["budget_duration"] = "bogus"

    admin.on_request = refuse_ops
    wrong = {pair("mle")["publicKey"]: (pair("mle")["secretKey"], "someone-else")}
    record, lines, ok = run(admin, tmp_path, text, secrets=Secrets(broken={"risk"}), projects=wrong)

    assert not ok
    assert set(admin.teams) == {"mle", "risk"}  # risk's secret failed, its LiteLLM team still converged
    assert lines[0] == "team mle: failed (langfuse: the team key pair belongs to project someone-else, expected mle)"
    assert lines[1].startswith("team ops: failed (litellm: LiteLLM proxy POST ") and "HTTP 400" in lines[1]
    assert lines[2].startswith("team risk: failed (cannot read its key secret ") and "AccessDeniedException" in lines[2]
    report = "\n".join(lines)
    assert MASTER_KEY not in report and "sk-lf-secret" not in report
    sql = (tmp_path / "langfuse.sql").read_text()
    assert "pk-lf-risk" not in sql and "'risk'" in sql  # not written, but not "removed" either


def test_a_team_litellm_cannot_read_fails_alone_and_the_sql_is_still_written(admin, tmp_path):
    """/team/info wraps a database error as 404 and /team/new then says the team exists: that team
    fails with the reason, the others are reconciled, the Langfuse SQL is written."""
    admin.add_team("mle", team_alias="mle", metadata={"managed-by": "llm-gateway"})
    admin.unreadable.add("mle")

    record, lines, ok = run(admin, tmp_path, document_text())

    assert not ok
    assert lines[0] == ("team mle: failed (litellm: /team/new says team mle exists, but /team/info cannot read it "
                        "(HTTP 404, which LiteLLM also answers for any error of its database): check the proxy's database)")
    assert lines[1] == "team risk: created (litellm team created; langfuse project risk, keys verified)"
    assert "'risk'" in (tmp_path / "langfuse.sql").read_text()


def test_an_unforeseen_answer_fails_that_team_only(admin, tmp_path):
    admin.add_team("mle", max_budget="unlimited")  # a row of a shape the pinned proxy never stores

    _, lines, ok = run(admin, tmp_path, document_text())

    assert not ok
    assert lines[0] == "team mle: failed (litellm: ValueError: could not convert string to float: 'unlimited')"
    assert lines[1].startswith("team risk: created (")


def test_a_removal_counts_only_once_the_team_is_gone(admin, tmp_path):
    """/team/delete answers 404 for a database error too: the team still listed is a failed removal."""
    run(admin, tmp_path, document_text())
    admin.unreadable.add("risk")

    _, lines, ok = run(admin, tmp_path, document_text(teams=TEAMS[:1]))

    assert "risk" in admin.teams
    assert not ok and lines[-1] == (
        "team risk: failed (litellm: the delete was answered, but /team/list still shows team risk "
        "(/team/delete answers 404 for any error of LiteLLM's database too))")

    admin.unreadable.clear()
    _, lines, ok = run(admin, tmp_path, document_text(teams=TEAMS[:1]))
    assert ok and lines[-1] == "team risk: removed (litellm team deleted)" and "risk" not in admin.teams


def test_existing_keys_are_only_verified_and_their_project_adopted(admin, tmp_path):
    text = document_text(teams=TEAMS[:1], existing={"mle"})
    projects = {pair("mle")["publicKey"]: (pair("mle")["secretKey"], "cm-old-project")}

    _, lines, ok = run(admin, tmp_path, text, projects=projects)

    assert ok and lines == ["team mle: created (litellm team created; langfuse existing keys adopted: "
                            "project cm-old-project ('cm-old-project'))"]
    assert "pk-lf-mle" not in (tmp_path / "langfuse.sql").read_text()


def test_removed_projects_listed_by_apply_join_the_report(admin, tmp_path):
    run(admin, tmp_path, document_text())
    (tmp_path / "removed-projects.txt").write_text("risk\nold\n")  # what psql writes

    _, lines, ok = run(admin, tmp_path, document_text(teams=TEAMS[:1]))

    assert ok and lines[1:] == ["team old: removed (no litellm team; langfuse project deleted)",
                                "team risk: removed (litellm team deleted; langfuse project deleted)"]


def test_a_key_cache_out_of_reach_fails_the_run_by_name(admin, tmp_path):
    """Apply listed pairs whose cached answers Langfuse may still hold: not clearing them fails the job."""
    text = document_text()
    job.plan(env(admin), str(tmp_path), read=lambda _l: text, fetch=Secrets(), **FAST)
    (tmp_path / "cached-keys.txt").write_text(fast_hash(pair("mle")["secretKey"], SALT) + "\n\n")  # as psql writes it
    projects = {pair(t)["publicKey"]: (pair(t)["secretKey"], t) for t in ("mle", "risk")}
    unreachable = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "9", "REDIS_TLS_ENABLED": "false", "REDIS_AUTH": "token"}
    with running_fake_langfuse(projects) as langfuse:
        lines, ok = job.verify({**env(admin, langfuse.url), **unreachable}, str(tmp_path), read=lambda _l: text,
                               fetch=Secrets(), **FAST)

    assert not ok
    assert lines[0].startswith("langfuse key cache: failed (cannot invalidate Langfuse's cached keys at 127.0.0.1:9: "
                               "ConnectionRefusedError: "), lines[0]
    assert [line.split(":")[0] for line in lines[1:]] == ["team mle", "team risk"]  # still verified


def test_kept_projects_lose_only_our_keys():
    sql = langfuse_sql(org_id="llm-gateway", org_name="Acme", salt=SALT, generated=[TeamKeys("mle", "pk", "sk")],
                       team_orgs=["mle"], document_teams=["mle"], keep_removed_projects=True, removed_projects_path="/work/r.txt",
                       cached_keys_path="/work/c.txt")
    assert "deleted_at = now()" not in sql and "k.note IN ('llm-gateway team key', 'Provisioned API Key')" in sql


def test_the_code_is_named_by_its_content():
    assert code_key() == f"team-plane/code/{hashlib.sha256(code().encode()).hexdigest()}.json"
    with pytest.raises(ValueError, match="no entry 'other'"):
        entrypoint_environment("bucket", "other")


@pytest.mark.parametrize("teams", [2, 30])
def test_a_step_gives_up_at_its_deadline_whatever_the_team_count(tmp_path, teams):
    """Every request of a step, and every retry, share the step's deadline: with nothing answering,
    the plan and verify steps end within it, each team failed with the reason."""
    clock, seconds = FakeClock(), 300.0
    nobody = f"http://127.0.0.1:{free_port()}"  # refuses every connection
    text = document_text([{"name": f"team-{i:02d}"} for i in range(teams)])
    environment = {"LLM_GATEWAY_TEAM_DOCUMENT": "s3://bucket/team-plane/desired.json", "LITELLM_INTERNAL_URL": nobody,
                   "LITELLM_MASTER_KEY": MASTER_KEY, "SALT": SALT, "LANGFUSE_ORG_ID": "llm-gateway",
                   "LANGFUSE_ORG_NAME": "Acme", "LANGFUSE_INTERNAL_URL": nobody}
    results = {}
    for step in (job.plan, job.verify):
        started = clock.now
        results[step.__name__] = step(environment, str(tmp_path), read=lambda _l: text, fetch=Secrets(),
                                      sleep=clock.sleep, deadline=Deadline(seconds, clock=clock.monotonic))
        assert clock.now - started <= seconds, step.__name__
    record, (lines, ok) = results["plan"], results["verify"]
    assert len(record["teams"]) == teams and {team["status"] for team in record["teams"].values()} == {"failed"}
    assert all("cannot reach the LiteLLM proxy" in team["detail"] for team in record["teams"].values())
    assert not ok and len(lines) == teams + 1  # every team, and the listing of removed teams


def test_the_three_steps_are_services_chained_on_one_work_volume():
    from services.secret_refs import LANGFUSE, LITELLM
    from services.specs import team_plane_steps
    from tests.unit.test_services import ENDPOINTS

    plan, apply, verify = team_plane_steps(make_settings(teams=TEAMS), ENDPOINTS)

    assert [s.name for s in (plan, apply, verify)] == ["team-plane-plan", "team-plane-apply", "team-plane-verify"]
    assert (apply.depends_on, verify.depends_on) == ({"team-plane-plan": "completed"}, {"team-plane-apply": "completed"})
    assert all(s.one_off and s.volumes == (job_volume(),) for s in (plan, apply, verify))
    assert plan.environment["LLM_GATEWAY_TEAM_DOCUMENT"] == ENDPOINTS.team_document
    code_env = entrypoint_environment(ENDPOINTS.team_plane_bucket, "job")
    assert code_env.items() <= plan.environment.items() and code_env.items() <= verify.environment.items()
    assert plan.environment["LITELLM_INTERNAL_URL"] == ENDPOINTS.litellm_internal_url
    assert verify.environment["LANGFUSE_INTERNAL_URL"] == ENDPOINTS.langfuse_internal_url
    assert {k: (r.secret, r.key) for k, r in plan.secrets.items()} == {
        "LITELLM_MASTER_KEY": (LITELLM, "masterKey"), "SALT": (LANGFUSE, "salt")}
    assert {k: (r.secret, r.key) for k, r in apply.secrets.items()} == {"DATABASE_URL": (LANGFUSE, "databaseUrl")}
    # Langfuse's Redis as Langfuse reaches it: verify empties its API-key cache (team_plane/key_cache.py).
    assert {k: verify.environment[k] for k in ("REDIS_HOST", "REDIS_PORT", "REDIS_TLS_ENABLED")} == {
        "REDIS_HOST": ENDPOINTS.redis_host, "REDIS_PORT": "6379", "REDIS_TLS_ENABLED": str(ENDPOINTS.redis_tls).lower()}
    assert {k: (r.secret, r.key) for k, r in verify.secrets.items()} == {"REDIS_AUTH": ("redis", "authToken")}
    assert plan.entrypoint == verify.entrypoint == ("python3", "-c", BOOTSTRAP)


def job_volume():
    from services.specs import TEAM_PLANE_WORK

    assert (TEAM_PLANE_WORK.name, TEAM_PLANE_WORK.container_path) == ("team-plane-work", "/work")
    return TEAM_PLANE_WORK
