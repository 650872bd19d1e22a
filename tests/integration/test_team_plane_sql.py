"""The team plane's Langfuse SQL (team_plane/langfuse.py) against a real PostgreSQL: tables as
Langfuse's schema.prisma defines them, pgcrypto created as db-init creates it, the script run as
the apply step runs it (psql, one transaction) twice, then a rotation and removals. The hashes are
checked with Langfuse's own algorithms: createShaHash (packages/shared/src/server/auth/apiKeys.ts)
with Node's crypto, and bcryptjs (the version Langfuse depends on) for the bcrypt hash."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from config.database_init import EXTENSIONS
from config.services import TEAM_PLANE_APPLY
from team_plane.langfuse import TeamKeys, langfuse_sql
from tests.support.postgres_server import running_postgres

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SALT = "dGVhbS1wbGFuZS1zYWx0LWZvci10ZXN0cw=="
# langfuse v4.16.0 packages/shared/prisma/schema.prisma, models Organization, Project, ApiKey and enum
# ApiKeyScope: only the columns the team plane reads or writes, their types, defaults and uniques
# as Prisma's migrations create them (@default(now()) and enum defaults are database defaults;
# @default(cuid()) and @updatedAt are not: the client fills them).
SCHEMA = """
CREATE TYPE "ApiKeyScope" AS ENUM ('ORGANIZATION', 'PROJECT');
CREATE TABLE organizations (id text PRIMARY KEY, name text NOT NULL,
  created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE projects (id text PRIMARY KEY, org_id text NOT NULL REFERENCES organizations(id) ON UPDATE CASCADE ON DELETE CASCADE,
  created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  deleted_at timestamp(3), name text NOT NULL, metadata jsonb);
CREATE TABLE api_keys (id text PRIMARY KEY, created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, note text,
  public_key text NOT NULL UNIQUE, hashed_secret_key text NOT NULL UNIQUE, fast_hashed_secret_key text UNIQUE,
  display_secret_key text NOT NULL, is_in_app_agent_key boolean NOT NULL DEFAULT false,
  project_id text REFERENCES projects(id) ON UPDATE CASCADE ON DELETE CASCADE,
  organization_id text REFERENCES organizations(id) ON UPDATE CASCADE ON DELETE CASCADE,
  scope "ApiKeyScope" NOT NULL DEFAULT 'PROJECT');
"""
NODE_CHECK = """
const crypto = require('crypto'); const bcrypt = require('bcryptjs');
const [sk, salt, fast, hashed] = JSON.parse(process.argv[1]);
// createShaHash, apiKeys.ts (langfuse v4.16.0)
const expected = crypto.createHash('sha256').update(sk).update(crypto.createHash('sha256').update(salt, 'utf8').digest('hex')).digest('hex');
console.log(JSON.stringify({fast: expected === fast, bcrypt: bcrypt.compareSync(sk, hashed), wrong: bcrypt.compareSync(sk + 'x', hashed)}));
"""


@pytest.fixture(scope="module")
def langfuse_db():
    with running_postgres("master-password") as server:
        master = server.url("postgres", "master-password", "postgres")
        server.psql(master, "CREATE ROLE langfuse LOGIN PASSWORD 'lf-password'; CREATE DATABASE langfuse OWNER langfuse;")
        # db-init's statements, as the master user; langfuse is not a superuser: pgcrypto is trusted.
        server.psql(master, "GRANT langfuse TO CURRENT_USER;\n" + EXTENSIONS)
        url = server.url("langfuse", "lf-password", "langfuse")
        server.psql(url, SCHEMA)
        yield server, url


def apply(server, url: str, sql: str, work: Path) -> None:
    """What the apply step runs (config/services.py TEAM_PLANE_APPLY), with /work here."""
    (work / "langfuse.sql").write_text(sql)
    script = TEAM_PLANE_APPLY.replace("/work/", f"{work}/")
    result = subprocess.run(["sh", "-c", script], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not (work / "langfuse.sql").exists()  # the secret keys do not stay on the volume


def rows(server, url: str) -> dict[str, tuple]:
    out = server.psql(url, "SELECT public_key, project_id, note, display_secret_key, fast_hashed_secret_key, "
                           "hashed_secret_key, scope FROM api_keys ORDER BY public_key")
    return {line.split("|")[0]: tuple(line.split("|")[1:]) for line in out.splitlines()}


def projects(server, url: str) -> dict[str, tuple]:
    out = server.psql(url, "SELECT id, org_id, name, metadata->>'managed-by', deleted_at IS NOT NULL FROM projects ORDER BY id")
    return {line.split("|")[0]: tuple(line.split("|")[1:]) for line in out.splitlines()}


def script(work: Path, generated, teams, keep: bool) -> str:
    return langfuse_sql(org_id="llm-gateway", org_name="Acme", salt=SALT, generated=generated, document_teams=teams,
                        keep_removed_projects=keep, removed_projects_path=str(work / "removed-projects.txt"))


def test_projects_and_keys_as_langfuse_writes_them_idempotent_rotated_and_removed(langfuse_db, tmp_path):
    server, url = langfuse_db
    mle, risk = TeamKeys("mle", "pk-lf-mle-1", "sk-lf-mle-secret-1"), TeamKeys("risk", "pk-lf-risk", "sk-lf-risk-secret")
    first = script(tmp_path, [mle, risk], ["mle", "risk", "ops"], keep=False)

    apply(server, url, first, tmp_path)
    written = rows(server, url)
    apply(server, url, first, tmp_path)  # idempotent: not even the bcrypt hash is rewritten

    assert rows(server, url) == written
    assert projects(server, url) == {"mle": ("llm-gateway", "mle", "llm-gateway", "f"),
                                     "risk": ("llm-gateway", "risk", "llm-gateway", "f")}
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
    apply(server, url, script(tmp_path, [rotated, risk], ["mle", "risk"], keep=False), tmp_path)
    assert set(rows(server, url)) == {"pk-lf-mle-2", "pk-lf-risk", "pk-lf-ui"}

    # prod (keep): the removed team's project and traces stay, our key goes, once.
    apply(server, url, script(tmp_path, [rotated], ["mle"], keep=True), tmp_path)
    assert (tmp_path / "removed-projects.txt").read_text().split() == ["risk"]
    assert set(rows(server, url)) == {"pk-lf-mle-2", "pk-lf-ui"}
    assert projects(server, url)["risk"][3] == "f"
    apply(server, url, script(tmp_path, [rotated], ["mle"], keep=True), tmp_path)
    assert (tmp_path / "removed-projects.txt").read_text().split() == []

    # stg: the project is soft-deleted with every key, as Langfuse's own deletion does; back when re-added.
    apply(server, url, script(tmp_path, [], [], keep=False), tmp_path)
    assert sorted((tmp_path / "removed-projects.txt").read_text().split()) == ["mle", "risk"]
    assert rows(server, url) == {} and {p[3] for p in projects(server, url).values()} == {"t"}
    apply(server, url, script(tmp_path, [rotated], ["mle"], keep=False), tmp_path)
    assert projects(server, url)["mle"][3] == "f" and set(rows(server, url)) == {"pk-lf-mle-2"}


def test_a_pair_registered_on_another_project_moves_to_the_team(langfuse_db, tmp_path):
    server, url = langfuse_db
    server.psql(url, "INSERT INTO organizations (id, name) VALUES ('other-org', 'o') ON CONFLICT DO NOTHING;"
                     "INSERT INTO projects (id, org_id, name) VALUES ('elsewhere', 'other-org', 'e');"
                     "INSERT INTO api_keys (id, public_key, hashed_secret_key, display_secret_key, project_id) "
                     "VALUES ('k', 'pk-lf-moved', 'h', 'd', 'elsewhere')")

    apply(server, url, script(tmp_path, [TeamKeys("ops", "pk-lf-moved", "sk-lf-ops")], ["ops"], keep=False), tmp_path)

    assert rows(server, url)["pk-lf-moved"][0] == "ops"
    assert projects(server, url)["elsewhere"][3] == "f"  # not ours: never touched
