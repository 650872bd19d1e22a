"""Langfuse projects and key pairs for the team plane, without LANGFUSE_INIT_* per team.

`langfuse_sql` writes, in one psql script, what Langfuse's headless init writes for a project and
its predefined key pair (langfuse v4.16.0 web/src/initialize.ts; createAndAddApiKeysToDb in
packages/shared/src/server/auth/apiKeys.ts), into the tables of packages/shared/prisma/schema.prisma
(`organizations`, `projects`, `api_keys`):

- the platform's organization is upserted without touching an existing one (initialize.ts `update: {}`);
- each `generate` team gets an organization of its own (`team_org_id`, marked like its project):
  organization membership is what isolates one team's traces from another's in every Langfuse
  edition (team_plane/langfuse_access.py writes its members);
- a `generate` team's project: id = name = the team, in its team's organization, marked
  `metadata."managed-by"`; a project we had soft-deleted comes back. A project found in another
  organization (a stack deployed before the team organizations: all in the platform's) moves as
  Langfuse's own transfer moves it (projectsRouter.ts `transfer`: the project's project memberships
  are deleted and its `org_id` updated, in one transaction; its keys and traces are keyed by project
  and stay), and its keys' fast hashes are listed: Langfuse caches each key with its organization
  (apiAuth.ts, `invalidateCachedProjectApiKeys` after a transfer);
- its key: `hashed_secret_key` = bcrypt(sk, cost 11) (`hash(key, 11)` of bcryptjs; pgcrypto's
  crypt(sk, gen_salt('bf', 11)) writes the same $2a$ format bcryptjs verifies),
  `fast_hashed_secret_key` = createShaHash(sk, SALT) = sha256(sk + hex(sha256(SALT))),
  `display_secret_key` = sk[:6] + "..." + sk[-4:], scope PROJECT. A pair already registered on
  another project, or with another secret, is replaced (initialize.ts deletes a key whose
  project changed); our earlier keys of the project (a rotated pair) are deleted.
- `existing` teams are never written: their pair is only verified (`verify_pair`), adopting
  whatever project it belongs to.
- managed projects whose team left the document: their keys go either way (a removed team's
  credentials must stop writing to Langfuse; a returning team gets its pair back); the project is
  kept with its traces when `keepRemovedProjects`, else soft-deleted as Langfuse's own project
  deletion does first (projectsRouter.ts `delete`: keys deleted, `deleted_at` set).

Every write is guarded so a second run of the same script changes nothing (bcrypt, salted
randomly, is computed only for a key that is missing). The script also lists, one per line in a
file, the fast hash of every pair it writes and of every key row it deletes: Langfuse caches key
lookups under that hash, and the verify step empties exactly those entries once the transaction
has committed (team_plane/key_cache.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from team_plane.http import Deadline, JsonApiClient

MANAGED = json.dumps({"managed-by": "llm-gateway"})
TEAM_ORG_PREFIX = "team-"
KEY_NOTE = "llm-gateway team key"
# Keys we wrote before, under Langfuse's init (its note, initialize.ts): replaced on rotation too.
OUR_NOTES = (KEY_NOTE, "Provisioned API Key")
PROJECTS_PATH = "/api/public/projects"
REMOVED_PROJECTS_FILE = "removed-projects.txt"  # written by psql: the managed projects that left
CACHED_KEYS_FILE = "cached-keys.txt"  # written by psql: fast hashes of the pairs written or deleted


@dataclass(frozen=True)
class TeamKeys:
    team: str
    public_key: str
    secret_key: str


def team_org_id(team: str) -> str:
    """The team's organization: never a Langfuse id (cuids have no hyphen)."""
    return TEAM_ORG_PREFIX + team


def fast_hash(secret_key: str, salt: str) -> str:
    """Langfuse's createShaHash (apiKeys.ts)."""
    salt_hex = hashlib.sha256(salt.encode()).hexdigest()
    return hashlib.sha256(secret_key.encode() + salt_hex.encode()).hexdigest()


def display_secret_key(secret_key: str) -> str:
    return secret_key[:6] + "..." + secret_key[-4:]  # getDisplaySecretKey (apiKeys.ts)


def literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1)."""
    if "\x00" in value:
        raise ValueError("NUL in a SQL literal")
    return "'" + value.replace("'", "''") + "'"


def _team_statements(keys: TeamKeys, salt: str) -> str:
    team, pk = literal(keys.team), literal(keys.public_key)
    org = literal(team_org_id(keys.team))
    fh = literal(fast_hash(keys.secret_key, salt))
    notes = ", ".join(literal(note) for note in OUR_NOTES)
    moving = f"EXISTS (SELECT FROM projects WHERE id = {team} AND org_id <> {org})"
    return f"""\
DELETE FROM project_memberships WHERE project_id = {team} AND {moving};
SELECT fast_hashed_secret_key FROM api_keys WHERE project_id = {team} AND {moving};
INSERT INTO projects (id, org_id, name, metadata) VALUES ({team}, {org}, {team}, {literal(MANAGED)}::jsonb)
  ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id, deleted_at = NULL,
    metadata = coalesce(projects.metadata, '{{}}'::jsonb) || excluded.metadata, updated_at = now()
  WHERE projects.org_id <> excluded.org_id OR projects.deleted_at IS NOT NULL
    OR NOT coalesce(projects.metadata, '{{}}'::jsonb) @> excluded.metadata;
DELETE FROM api_keys WHERE project_id = {team} AND note IN ({notes}) AND public_key <> {pk} RETURNING fast_hashed_secret_key;
DELETE FROM api_keys WHERE public_key = {pk} AND (project_id IS DISTINCT FROM {team} OR fast_hashed_secret_key IS DISTINCT FROM {fh})
  RETURNING fast_hashed_secret_key;
SELECT {fh};
INSERT INTO api_keys (id, public_key, hashed_secret_key, fast_hashed_secret_key, display_secret_key, note, scope, project_id)
  SELECT gen_random_uuid()::text, {pk}, crypt({literal(keys.secret_key)}, gen_salt('bf', 11)), {fh},
         {literal(display_secret_key(keys.secret_key))}, {literal(KEY_NOTE)}, 'PROJECT'::"ApiKeyScope", {team}
  WHERE NOT EXISTS (SELECT FROM api_keys WHERE public_key = {pk});
"""


def _team_organization(team: str) -> str:
    org, metadata = literal(team_org_id(team)), literal(json.dumps({"managed-by": "llm-gateway", "team": team}))
    return f"INSERT INTO organizations (id, name, metadata) VALUES ({org}, {literal(team)}, {metadata}::jsonb) ON CONFLICT (id) DO NOTHING;\n"


def langfuse_sql(*, org_id: str, org_name: str, salt: str, generated: Sequence[TeamKeys], team_orgs: Sequence[str],
                 document_teams: Sequence[str], keep_removed_projects: bool, removed_projects_path: str,
                 cached_keys_path: str, access: str = "", access_path: str = "") -> str:
    """The psql script (run with --quiet --single-transaction -v ON_ERROR_STOP=1 --tuples-only
    --no-align: only query results are written). `team_orgs`: every `generate` team of the document,
    whose organization must exist whether or not its keys could be read (its members are written
    either way). `generated`: the pairs to write. `document_teams` are every team of the document,
    failed or not: only managed projects of none of them count as removed. It lists the removed
    projects, one per line, in `removed_projects_path`, the fast hashes of the pairs it writes, of
    the keys it deletes and of the keys of a project it moves in `cached_keys_path`, and what
    `access` (team_plane/langfuse_access.py) prints in `access_path`."""
    in_document = ", ".join(literal(name) for name in sorted(document_teams))
    # (NOT IN of an empty list is not SQL; NOT IN (NULL) would never be true.) A managed project is
    # in its team's organization, or still in the platform's (a stack from before them).
    left = (f"p.metadata @> {literal(MANAGED)}::jsonb AND p.deleted_at IS NULL"
            + (f" AND p.id NOT IN ({in_document})" if in_document else ""))
    notes = ", ".join(literal(note) for note in OUR_NOTES)
    if keep_removed_projects:  # only our keys go; listed once, when they do
        ours = f"k.project_id = p.id AND {left} AND k.note IN ({notes})"
        before = f"SELECT k.fast_hashed_secret_key FROM api_keys k, projects p WHERE {ours};\n"
        removal = (f"WITH gone AS (DELETE FROM api_keys k USING projects p WHERE {ours} "
                   f"RETURNING k.project_id) SELECT DISTINCT project_id FROM gone ORDER BY 1")
    else:  # every project key goes first, as Langfuse's own deletion does
        before = (f"DELETE FROM api_keys k USING projects p WHERE k.project_id = p.id AND {left} AND k.scope = 'PROJECT' "
                  "RETURNING k.fast_hashed_secret_key;\n")
        removal = (f"UPDATE projects p SET deleted_at = now(), updated_at = now() WHERE {left} RETURNING p.id")
    parts = [
        f"\\o {cached_keys_path}\n",
        f"INSERT INTO organizations (id, name) VALUES ({literal(org_id)}, {literal(org_name)}) ON CONFLICT (id) DO NOTHING;\n",
        *(_team_organization(team) for team in sorted(team_orgs)),
        *(_team_statements(keys, salt) for keys in sorted(generated, key=lambda k: k.team)),
        before,
        f"\\o {removed_projects_path}\n{removal};\n",
        f"\\o {access_path}\n{access}" if access else "",
        "\\o\n",
    ]
    return "".join(parts)


class PairCheck:
    """GET /api/public/projects with a team's pair: a project key is answered with its own project."""

    def __init__(self, langfuse_url: str, *, timeout_seconds: float, retry_delays: Sequence[float],
                 sleep: Callable[[float], None], deadline: Deadline | None = None):
        self._url = langfuse_url.rstrip("/")
        self._options = {"timeout_seconds": timeout_seconds, "retry_delays": retry_delays, "sleep": sleep,
                         "deadline": deadline}

    def projects(self, public_key: str, secret_key: str) -> tuple[int, list[Mapping[str, Any]]]:
        """(HTTP status, the projects this pair answers for)."""
        auth = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        client = JsonApiClient(self._url, {"Authorization": f"Basic {auth}"}, unreachable=self._unreachable,
                               **self._options)
        response = client.send("GET", PROJECTS_PATH)
        data = response.body.get("data") if isinstance(response.body, dict) else None
        return response.status, list(data or [])

    def _unreachable(self, method: str, path: str, reason: str, attempts: int) -> Exception:
        return ConnectionError(f"cannot reach Langfuse at {self._url} ({method} {path}: {reason}; {attempts} attempts)")


def verify_pair(check: PairCheck, team: str, mode: str, public_key: str, secret_key: str) -> tuple[bool, str]:
    """(ok, what the report says). generate: the pair must answer for exactly the project `team`;
    existing: for exactly one project, which is adopted and named."""
    status, projects = check.projects(public_key, secret_key)
    if status != 200:
        what = "the existing key pair" if mode == "existing" else "the team key pair"
        return False, f"{what} does not authenticate on Langfuse (HTTP {status})"
    if len(projects) != 1:
        return False, f"the key pair answers for {len(projects)} projects, expected one"
    project = projects[0]
    if mode == "existing":
        return True, f"existing keys adopted: project {project.get('id')} ({project.get('name')!r})"
    if project.get("id") != team:
        return False, f"the team key pair belongs to project {project.get('id')}, expected {team}"
    return True, f"project {team}, keys verified"
