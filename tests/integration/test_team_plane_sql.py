"""The team plane's Langfuse SQL (team_plane/langfuse.py) against a real PostgreSQL: Langfuse's own
schema as its migrations create it (tests/support/langfuse_db.py), pgcrypto created as db-init
creates it, the script run as the apply step runs it (psql, one transaction) twice, then a rotation
and removals. The hashes are
checked with Langfuse's own algorithms: createShaHash (packages/shared/src/server/auth/apiKeys.ts)
with Node's crypto, and bcryptjs (the version Langfuse depends on) for the bcrypt hash.

Langfuse's API-key cache lives in a real redis-server, written as Langfuse web writes it
(`CachingLangfuse`, after web/src/features/public-api/server/apiAuth.ts): the job must empty exactly
the entries of the pairs it wrote or deleted (team_plane/key_cache.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.specs import LANGFUSE_ORG_ID, deadline_of, step_deadline
from renderers.team_document import DOCUMENT_KEY, KeySecret, render_team_document, team_document
from team_plane.embed import BOOTSTRAP, code, code_key, entrypoint_environment
from team_plane.key_cache import fast_hashes, invalidate_listed
from team_plane.langfuse import PairCheck, TeamKeys, fast_hash, langfuse_sql, literal
from tests.support.fake_langfuse import FakeLangfuse, _Handler as _LangfuseHandler
from tests.support.fake_litellm_admin import running_fake_admin
from tests.support.hosts import staging_specs
from tests.support.litellm_proxy import free_port, random_master_key
from tests.support.loopback import serving
from tests.support.langfuse_db import apply, create_langfuse_database, create_user
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer, running_redis_server
from tests.support.settings import make_settings

# One worker takes the modules on Langfuse's database (make test: --dist loadgroup): PostgreSQL starts once
# (the `postgres` fixture, tests/integration/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("langfuse-postgres")]
REPO = Path(__file__).resolve().parents[2]
SALT = "dGVhbS1wbGFuZS1zYWx0LWZvci10ZXN0cw=="
NODE_CHECK = """
const crypto = require('crypto'); const bcrypt = require('bcryptjs');
const [sk, salt, fast, hashed] = JSON.parse(process.argv[1]);
// createShaHash, apiKeys.ts (langfuse v4.16.0)
const expected = crypto.createHash('sha256').update(sk).update(crypto.createHash('sha256').update(salt, 'utf8').digest('hex')).digest('hex');
console.log(JSON.stringify({fast: expected === fast, bcrypt: bcrypt.compareSync(sk, hashed), wrong: bcrypt.compareSync(sk + 'x', hashed)}));
"""


@pytest.fixture
def langfuse_db(postgres):
    """A fresh langfuse database per test, with Langfuse's own schema (one server per module: starting one
    takes seconds)."""
    server, master = postgres
    return server, create_langfuse_database(server, master)


def rows(server, url: str) -> dict[str, tuple]:
    out = server.psql(url, "SELECT public_key, project_id, note, display_secret_key, fast_hashed_secret_key, "
                           "hashed_secret_key, scope FROM api_keys ORDER BY public_key")
    return {line.split("|")[0]: tuple(line.split("|")[1:]) for line in out.splitlines()}


def projects(server, url: str) -> dict[str, tuple]:
    out = server.psql(url, "SELECT id, org_id, name, metadata->>'managed-by', deleted_at IS NOT NULL FROM projects ORDER BY id")
    return {line.split("|")[0]: tuple(line.split("|")[1:]) for line in out.splitlines()}


def script(work: Path, generated, teams, keep: bool) -> str:
    return langfuse_sql(org_id="llm-gateway", org_name="Acme", salt=SALT, generated=generated,
                        team_orgs=[keys.team for keys in generated], document_teams=teams,
                        keep_removed_projects=keep, removed_projects_path=str(work / "removed-projects.txt"),
                        cached_keys_path=str(work / "cached-keys.txt"))


def test_projects_and_keys_as_langfuse_writes_them_idempotent_rotated_and_removed(langfuse_db, tmp_path):
    server, url = langfuse_db
    mle, risk = TeamKeys("mle", "pk-lf-mle-1", "sk-lf-mle-secret-1"), TeamKeys("risk", "pk-lf-risk", "sk-lf-risk-secret")
    first = script(tmp_path, [mle, risk], ["mle", "risk", "ops"], keep=False)

    apply(url, first, tmp_path)
    written = rows(server, url)
    apply(url, first, tmp_path)  # idempotent: not even the bcrypt hash is rewritten

    assert rows(server, url) == written
    assert projects(server, url) == {"mle": ("team-mle", "mle", "llm-gateway", "f"),
                                     "risk": ("team-risk", "risk", "llm-gateway", "f")}
    project, note, display, fast, hashed, scope = written["pk-lf-mle-1"]
    assert (project, note, display, scope) == ("mle", "llm-gateway team key", "sk-lf-...et-1", "PROJECT")
    check = subprocess.run(["node", "-e", NODE_CHECK, json.dumps([mle.secret_key, SALT, fast, hashed])],
                           cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(check.stdout) == {"fast": True, "bcrypt": True, "wrong": False}
    assert hashed.startswith("$2a$11$")

    # A rotated pair replaces the old one; a key made by hand in the UI stays.
    server.psql(url, "INSERT INTO api_keys (id, public_key, hashed_secret_key, display_secret_key, note, project_id) "
                     "VALUES ('ui', 'pk-lf-ui', 'x', 'sk-lf-...ui', 'made in the UI', 'mle')")
    rotated = TeamKeys("mle", "pk-lf-mle-2", "sk-lf-mle-secret-2")
    apply(url, script(tmp_path, [rotated, risk], ["mle", "risk"], keep=False), tmp_path)
    assert set(rows(server, url)) == {"pk-lf-mle-2", "pk-lf-risk", "pk-lf-ui"}

    # prod (keep): the removed team's project and traces stay, our key goes, once.
    apply(url, script(tmp_path, [rotated], ["mle"], keep=True), tmp_path)
    assert (tmp_path / "removed-projects.txt").read_text().split() == ["risk"]
    assert set(rows(server, url)) == {"pk-lf-mle-2", "pk-lf-ui"}
    assert projects(server, url)["risk"][3] == "f"
    apply(url, script(tmp_path, [rotated], ["mle"], keep=True), tmp_path)
    assert (tmp_path / "removed-projects.txt").read_text().split() == []

    # stg: the project is soft-deleted with every key, as Langfuse's own deletion does; back when re-added.
    apply(url, script(tmp_path, [], [], keep=False), tmp_path)
    assert sorted((tmp_path / "removed-projects.txt").read_text().split()) == ["mle", "risk"]
    assert rows(server, url) == {} and {p[3] for p in projects(server, url).values()} == {"t"}
    apply(url, script(tmp_path, [rotated], ["mle"], keep=False), tmp_path)
    assert projects(server, url)["mle"][3] == "f" and set(rows(server, url)) == {"pk-lf-mle-2"}


def test_a_pair_registered_on_another_project_moves_to_the_team(langfuse_db, tmp_path):
    server, url = langfuse_db
    server.psql(url, "INSERT INTO organizations (id, name) VALUES ('other-org', 'o') ON CONFLICT DO NOTHING;"
                     "INSERT INTO projects (id, org_id, name) VALUES ('elsewhere', 'other-org', 'e');"
                     "INSERT INTO api_keys (id, public_key, hashed_secret_key, display_secret_key, project_id) "
                     "VALUES ('k', 'pk-lf-moved', 'h', 'd', 'elsewhere')")

    apply(url, script(tmp_path, [TeamKeys("ops", "pk-lf-moved", "sk-lf-ops")], ["ops"], keep=False), tmp_path)

    assert rows(server, url)["pk-lf-moved"][0] == "ops"
    assert projects(server, url)["elsewhere"][3] == "f"  # not ours: never touched


# Langfuse's cache (langfuse v4.16.0): key prefix (packages/shared/src/server/auth/apiKeyCache.ts),
# the cached miss (packages/shared/src/server/auth/types.ts API_KEY_NON_EXISTENT, stored as JSON),
# the default TTL (web/src/env.mjs LANGFUSE_CACHE_API_KEY_TTL_SECONDS).
CACHE_TTL_SECONDS = 300
MISS = json.dumps("api-key-non-existent")


def cache_key(secret_key: str) -> str:
    return "api-key:" + fast_hash(secret_key, SALT)


def cached_entry(project_id: str, public_key: str, secret_key: str) -> str:
    """A hit as apiAuth.ts `convertToRedisRepresentation` stores it (OrgEnrichedApiKey, JSON)."""
    return json.dumps({"id": f"key-{public_key}", "note": None, "publicKey": public_key, "displaySecretKey": "sk-lf-...",
                       "createdAt": None, "lastUsedAt": None, "expiresAt": None,
                       "fastHashedSecretKey": fast_hash(secret_key, SALT), "hashedSecretKey": "$2a$11$...",
                       "orgId": "llm-gateway", "plan": "oss", "scope": "PROJECT", "projectId": project_id})


class CachingLangfuse(FakeLangfuse):
    """GET /api/public/projects answered as Langfuse's apiAuth.ts `verifyAuthHeaderAndReturnScope`
    finds a Basic-auth key: its cache entry, read with GETEX (which refreshes the TTL), else the
    api_keys row with the presented secret's fast hash, cached; a secret whose public key is unknown
    too is cached as a miss. (A known public key with another secret is refused without caching, after
    a bcrypt check these keys never reach: their fast hash is always written.)"""

    server: PostgresServer | None = None
    db_url: str = ""
    redis: RedisServer | None = None

    def authorize(self, public_key, secret_key):
        if not public_key or not secret_key:
            return None
        cache = self.redis.client()
        entry = cache.getex(cache_key(secret_key), ex=CACHE_TTL_SECONDS)
        if entry is not None:
            return None if entry == MISS else json.loads(entry)["projectId"]
        found = self.server.psql(self.db_url, (
            f"SELECT project_id FROM api_keys WHERE fast_hashed_secret_key = {literal(fast_hash(secret_key, SALT))}")).strip()
        if found:
            cache.set(cache_key(secret_key), cached_entry(found, public_key, secret_key), ex=CACHE_TTL_SECONDS)
            return found
        if not self.server.psql(self.db_url, f"SELECT 1 FROM api_keys WHERE public_key = {literal(public_key)}").strip():
            cache.set(cache_key(secret_key), MISS, ex=CACHE_TTL_SECONDS)
        return None


def redis_env(redis: RedisServer) -> dict[str, str]:
    """Langfuse's Redis as the verify step gets it (services/specs.py team_plane_steps)."""
    return {"REDIS_HOST": redis.host, "REDIS_PORT": str(redis.port), "REDIS_TLS_ENABLED": "false",
            "REDIS_AUTH": redis.password}


def test_the_key_cache_loses_exactly_the_pairs_written_or_deleted(langfuse_db, tmp_path):
    """A rotation, a removal in prod, a removal in stg: after each apply, every cache entry of a pair
    the SQL wrote or deleted is gone (a miss cached before the pair existed included); Langfuse's
    other entries, the keys it did not touch and LiteLLM's database stay."""
    server, url = langfuse_db
    mle_1, mle_2 = TeamKeys("mle", "pk-lf-mle-1", "sk-lf-mle-1"), TeamKeys("mle", "pk-lf-mle-2", "sk-lf-mle-2")
    risk = TeamKeys("risk", "pk-lf-risk", "sk-lf-risk")
    listed = tmp_path / "cached-keys.txt"
    with running_redis_server(tmp_path, random_master_key()) as redis:
        cache, litellm = redis.client(), redis.client(db=1)
        apply(url, script(tmp_path, [mle_1, risk], ["mle", "risk"], keep=False), tmp_path)
        assert fast_hashes(listed.read_text()) == sorted(fast_hash(k.secret_key, SALT) for k in (mle_1, risk))
        server.psql(url, "INSERT INTO api_keys (id, public_key, hashed_secret_key, fast_hashed_secret_key, "
                         f"display_secret_key, note, project_id) VALUES ('ui', 'pk-lf-ui', 'x', "
                         f"{literal(fast_hash('sk-lf-ui', SALT))}, 'sk-lf-...ui', 'made in the UI', 'mle')")
        untouched = {cache_key("sk-lf-ui"): cached_entry("mle", "pk-lf-ui", "sk-lf-ui"),
                     cache_key("sk-lf-platform"): cached_entry("platform", "pk-lf-platform", "sk-lf-platform"),
                     "bull:ingestion-queue:meta": "queue"}

        def langfuse_has_cached(*pairs: TeamKeys, missing: TeamKeys | None = None) -> None:
            cache.flushdb()
            for key, value in untouched.items():
                cache.set(key, value, ex=CACHE_TTL_SECONDS)
            for keys in pairs:
                cache.set(cache_key(keys.secret_key), cached_entry(keys.team, keys.public_key, keys.secret_key), ex=CACHE_TTL_SECONDS)
            if missing:  # used before the team plane wrote it
                cache.set(cache_key(missing.secret_key), MISS, ex=CACHE_TTL_SECONDS)
            litellm.set(cache_key(mle_1.secret_key), "LiteLLM's, not Langfuse's")

        def invalidated() -> set[str]:
            before = set(cache.keys("*"))
            invalidate_listed(redis_env(redis), fast_hashes(listed.read_text()))
            assert {key: cache.get(key) for key in untouched if key in cache.keys("*")} == {
                key: value for key, value in untouched.items() if key in before and key in cache.keys("*")}
            assert litellm.get(cache_key(mle_1.secret_key)) == "LiteLLM's, not Langfuse's"
            return before - set(cache.keys("*"))

        # Rotation: the new pair was refused (and cached so) before the job ran; the old one still cached.
        langfuse_has_cached(mle_1, risk, missing=mle_2)
        apply(url, script(tmp_path, [mle_2, risk], ["mle", "risk"], keep=False), tmp_path)
        assert invalidated() == {cache_key(k.secret_key) for k in (mle_1, mle_2, risk)}
        assert untouched.keys() <= set(cache.keys("*"))

        # prod: the removed team's keys go, the project stays.
        langfuse_has_cached(mle_2, risk)
        apply(url, script(tmp_path, [mle_2], ["mle"], keep=True), tmp_path)
        assert invalidated() == {cache_key(k.secret_key) for k in (mle_2, risk)}

        # stg: every key of the removed project goes, the one made in the UI too, as Langfuse's deletion does.
        langfuse_has_cached(mle_2)
        apply(url, script(tmp_path, [], [], keep=False), tmp_path)
        assert invalidated() == {cache_key(mle_2.secret_key), cache_key("sk-lf-ui")}
        assert set(cache.keys("*")) == untouched.keys() - {cache_key("sk-lf-ui")}


def test_the_job_runs_plan_apply_verify_as_processes(langfuse_db, tmp_path):
    """The three steps as the containers run them: plan and verify as `python3 -c <embedded job>`
    (this venv's python: boto3, against moto's S3 and Secrets Manager), apply as the psql script
    against the real PostgreSQL; LiteLLM is the fake admin API, Langfuse a fake reading the table
    through its key cache in a real redis-server. LiteLLM used the teams' pairs before the job wrote
    them (as on ECS after a rotation): Langfuse cached the misses, and the job must clear them; a
    removed team's pair must stop authenticating at once."""
    from moto.server import ThreadedMotoServer

    server, url = langfuse_db
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    moto.start()
    try:
        aws = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto._port}", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        import boto3

        secrets = boto3.client("secretsmanager", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        s3 = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        # A team added by one entry: two people (one has a Langfuse account already) and a service key.
        mle = {"name": "mle", "models": ["sonnet"], "keys": [{"name": "batch", "maxBudget": 20}],
               "members": [{"email": "Ana@example.com", "role": "admin"}, {"email": "bo@example.com", "role": "viewer"}]}
        settings = make_settings(teams=[mle, {"name": "risk", "models": ["sonnet"]}])
        keys = {}
        for team in settings.teams:
            made = secrets.create_secret(Name=f"llm-gateway-stg/langfuse-keys/teams/{team.name}", SecretString=json.dumps(
                {"publicKey": f"pk-lf-flow-{team.name}", "secretKey": f"sk-lf-flow-{team.name}"}))
            keys[team.name] = KeySecret(made["ARN"], made["VersionId"])
        batch_value = "sk-" + "b" * 48
        made = secrets.create_secret(Name="llm-gateway-stg/litellm-keys/teams/mle/batch",
                                     SecretString=json.dumps({"apiKey": batch_value}))
        litellm_keys = {("mle", "batch"): KeySecret(made["ARN"], made["VersionId"])}
        create_user(server, url, "ana@example.com")
        s3.create_bucket(Bucket="team-plane")
        s3.put_object(Bucket="team-plane", Key=code_key(), Body=code().encode())  # as the deploy stores it
        s3.put_object(Bucket="team-plane", Key=DOCUMENT_KEY, Body=render_team_document(
            team_document(settings, keys, KeySecret(keys["mle"].arn, keys["mle"].version), litellm_keys)).encode())
        master_key = random_master_key()
        with (running_fake_admin(master_key) as admin, serving(CachingLangfuse(), _LangfuseHandler) as langfuse,
              running_redis_server(tmp_path, random_master_key()) as redis):
            langfuse.server, langfuse.db_url, langfuse.redis = server, url, redis
            env = {**aws, **entrypoint_environment("team-plane", "job"), "PATH": "/usr/bin:/bin",
                   "LLM_GATEWAY_TEAM_DOCUMENT": f"s3://team-plane/{DOCUMENT_KEY}",
                   "LLM_GATEWAY_TEAM_PLANE_WORK": str(tmp_path), "LITELLM_INTERNAL_URL": admin.url,
                   "LITELLM_MASTER_KEY": master_key, "SALT": SALT, "LANGFUSE_ORG_ID": LANGFUSE_ORG_ID,
                   "LANGFUSE_ORG_NAME": "Acme", "LANGFUSE_INTERNAL_URL": langfuse.url, **redis_env(redis)}

            specs = {spec.name: spec for spec in staging_specs()}

            def step(name: str) -> subprocess.CompletedProcess:
                deadline = step_deadline(deadline_of(specs[f"team-plane-{name}"]))  # as the step's environment has it
                return subprocess.run([sys.executable, "-c", BOOTSTRAP, name], env={**env, **deadline},
                                      capture_output=True, text=True, timeout=300)

            def run_job() -> subprocess.CompletedProcess:
                assert step("plan").returncode == 0
                apply(url, (tmp_path / "langfuse.sql").read_text(), tmp_path)
                return step("verify")

            def presented(team: str) -> int:
                """What Langfuse answers LiteLLM exporting with the team's pair."""
                check = PairCheck(langfuse.url, timeout_seconds=10, retry_delays=(), sleep=lambda _s: None)
                return check.projects(f"pk-lf-flow-{team}", f"sk-lf-flow-{team}")[0]

            # LiteLLM started on the pairs before the job wrote them: refused, and cached as misses.
            assert [presented("mle"), presented("risk")] == [401, 401]
            verified = run_job()

            assert verified.returncode == 0, verified.stdout + verified.stderr
            assert verified.stdout.splitlines() == [
                "llm-gateway team plane: langfuse key cache: 2 pairs invalidated (2 were cached)",
                "llm-gateway team plane: team mle: created (litellm team created; litellm members: ana@example.com user, "
                "bo@example.com user; ana@example.com is a team user: LiteLLM makes team admins only with LITELLM_LICENSE; "
                f"key batch registered ({litellm_keys['mle', 'batch'].arn}); langfuse project mle, keys verified; "
                "langfuse access: admin@example.com invited OWNER, ana@example.com member ADMIN, bo@example.com invited VIEWER)",
                "llm-gateway team plane: team risk: created (litellm team created; langfuse project risk, keys verified; "
                "langfuse access: admin@example.com invited OWNER)",
            ]
            assert set(admin.teams) == {"mle", "risk"}
            assert admin.keys[hashlib.sha256(batch_value.encode()).hexdigest()]["team_id"] == "mle"
            assert batch_value not in verified.stdout + verified.stderr
            # A removed team: its pair, cached while in use, stops authenticating with the job's run.
            assert presented("risk") == 200
            settings = make_settings(teams=[mle])
            s3.put_object(Bucket="team-plane", Key=DOCUMENT_KEY, Body=render_team_document(team_document(
                settings, {"mle": keys["mle"]}, KeySecret(keys["mle"].arn, keys["mle"].version), litellm_keys)).encode())
            removed = run_job()
            assert removed.returncode == 0, removed.stdout + removed.stderr
            assert ("llm-gateway team plane: team risk: removed (litellm team deleted; langfuse project deleted; "
                    "langfuse access removed: admin@example.com)") in removed.stdout.splitlines()
            assert presented("risk") == 401
            # A key deleted behind the team plane (and from the cache, as Langfuse's own deletion does):
            # verify fails the run with the team's line.
            server.psql(url, "DELETE FROM api_keys WHERE project_id = 'mle'")
            redis.client().delete(cache_key("sk-lf-flow-mle"))
            failed = step("verify")
            assert failed.returncode == 1
            assert "team mle: failed (langfuse: the team key pair does not authenticate on Langfuse (HTTP 401); " in failed.stdout
            assert "sk-lf-flow" not in failed.stdout + failed.stderr
    finally:
        moto.stop()
