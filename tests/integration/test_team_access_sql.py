"""Who reaches which Langfuse project after the team plane's SQL (team_plane/langfuse.py,
team_plane/langfuse_access.py), against a real PostgreSQL holding Langfuse's own schema (its
migrations, tests/support/langfuse_schema/), run as the apply step runs it (psql, one transaction).

Reaching a project is judged as Langfuse judges it: the session's project list
(tests/support/langfuse_db.py SESSION_PROJECTS, from web/src/server/auth.ts); accounts are created
and their invitations applied as Langfuse applies them (processMembershipInvitations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from team_plane.langfuse import TeamKeys, langfuse_sql
from team_plane.langfuse_access import TeamAccess, access_sql, read_access
from tests.support.langfuse_db import (
    apply, apply_invitations, create_langfuse_database, create_user, session_projects,
    sign_up,
)

# One worker takes the modules on Langfuse's database (make test: --dist loadgroup): PostgreSQL starts once
# (the `postgres` fixture, tests/integration/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("langfuse-postgres")]
SALT = "dGVhbS1hY2Nlc3Mtc2FsdA=="
ADMIN = "admin@example.com"
PLATFORM = "llm-gateway"  # the platform's organization (services/specs.py LANGFUSE_ORG_ID)


@pytest.fixture
def db(postgres):
    """Langfuse as its headless init leaves it: the platform organization and project, the admin its OWNER."""
    server, master = postgres
    url = create_langfuse_database(server, master)
    admin = create_user(server, url, ADMIN)
    server.psql(url, f"""
        INSERT INTO organizations (id, name) VALUES ('{PLATFORM}', 'Acme');
        INSERT INTO projects (id, org_id, name) VALUES ('platform', '{PLATFORM}', 'platform');
        INSERT INTO organization_memberships (id, org_id, user_id, role) VALUES ('m-admin', '{PLATFORM}', '{admin}', 'OWNER');""")
    return server, url


def reconcile(url: str, work: Path, teams: dict[str, dict[str, str]], admin: str | None = ADMIN,
              keep: bool = False) -> dict[str, list[tuple[str, str]]]:
    """The apply step's script for a document with these teams (team -> e-mail -> role), all
    `generate`; what it reports per team."""
    document_teams = [{"name": team, "members": [{"email": e, "role": r} for e, r in members.items()]}
                      for team, members in teams.items()]
    sql = langfuse_sql(
        org_id=PLATFORM, org_name="Acme", salt=SALT,
        generated=[TeamKeys(team, f"pk-lf-{team}", f"sk-lf-{team}") for team in teams], team_orgs=list(teams),
        document_teams=list(teams), keep_removed_projects=keep,
        removed_projects_path=str(work / "removed-projects.txt"), cached_keys_path=str(work / "cached-keys.txt"),
        access=access_sql([TeamAccess.from_document(team, admin) for team in document_teams]),
        access_path=str(work / "access.txt"),
    )
    apply(url, sql, work)
    return read_access((work / "access.txt").read_text())


TABLES = ("organizations", "projects", "organization_memberships", "project_memberships", "membership_invitations",
          "api_keys", "llm_gateway.managed_access")


def snapshot(server, url: str) -> dict[str, str]:
    """Every row of the tables the team plane writes, timestamps included."""
    return {table: server.psql(url, f"SELECT t::text FROM {table} t ORDER BY 1") for table in TABLES}


def test_a_member_reaches_their_team_project_and_no_other(db, tmp_path):
    server, url = db
    ann = create_user(server, url, "ann@example.com")
    reported = reconcile(url, tmp_path, {"alpha": {"ann@example.com": "member", "bob@example.com": "viewer"},
                                         "beta": {"cy@example.com": "admin"}})

    assert session_projects(server, url, "ann@example.com") == ["alpha"]
    assert session_projects(server, url, ADMIN) == ["alpha", "beta", "platform"]  # OWNER of every team's organization
    assert reported == {
        "alpha": [(ADMIN, "member OWNER"), ("ann@example.com", "member MEMBER"), ("bob@example.com", "invited VIEWER")],
        "beta": [(ADMIN, "member OWNER"), ("cy@example.com", "invited ADMIN")],
    }
    # Organization roles only: never a project role, never an invitation that carries one.
    assert server.psql(url, "SELECT count(*) FROM project_memberships").strip() == "0"
    assert server.psql(url, "SELECT email, org_id, org_role, project_id IS NULL AND project_role IS NULL "
                            "FROM membership_invitations ORDER BY 1").split() == [
        "bob@example.com|team-alpha|VIEWER|t", "cy@example.com|team-beta|ADMIN|t"]
    assert server.psql(url, f"SELECT role FROM organization_memberships WHERE user_id = '{ann}'").split() == ["MEMBER"]

    # Invited people sign up: Langfuse's own transaction applies their invitation; they reach only their project.
    sign_up(server, url, "bob@example.com")
    sign_up(server, url, "cy@example.com")
    assert session_projects(server, url, "bob@example.com") == ["alpha"]
    assert session_projects(server, url, "cy@example.com") == ["beta"]


def test_a_second_run_changes_nothing(db, tmp_path):
    server, url = db
    create_user(server, url, "ann@example.com")
    teams = {"alpha": {"ann@example.com": "admin", "bob@example.com": "member"}}
    first = reconcile(url, tmp_path, teams)
    written = snapshot(server, url)

    assert reconcile(url, tmp_path, teams) == first
    assert snapshot(server, url) == written


def test_removal_revokes_and_people_added_by_hand_stay(db, tmp_path):
    server, url = db
    create_user(server, url, "ann@example.com")
    eve = create_user(server, url, "eve@example.com")
    reconcile(url, tmp_path, {"alpha": {"ann@example.com": "member", "bob@example.com": "viewer"}})
    # Added in Langfuse's UI: a member and an invitation of the team's organization, and an OWNER.
    boss = create_user(server, url, "boss@example.com")
    server.psql(url, f"""
        INSERT INTO organization_memberships (id, org_id, user_id, role) VALUES ('m-eve', 'team-alpha', '{eve}', 'VIEWER'),
          ('m-boss', 'team-alpha', '{boss}', 'OWNER');
        INSERT INTO membership_invitations (id, email, org_id, org_role) VALUES ('i-ui', 'fay@example.com', 'team-alpha', 'MEMBER');""")
    # Listed later: the OWNER keeps OWNER (never demoted), and stays when unlisted again.
    listed = reconcile(url, tmp_path, {"alpha": {"ann@example.com": "member", "bob@example.com": "viewer",
                                                 "boss@example.com": "viewer"}})
    assert dict(listed["alpha"])["boss@example.com"] == "owner"

    reported = reconcile(url, tmp_path, {"alpha": {}})

    assert session_projects(server, url, "ann@example.com") == []
    assert server.psql(url, "SELECT email FROM membership_invitations ORDER BY 1").split() == ["fay@example.com"]
    assert session_projects(server, url, "eve@example.com") == ["alpha"]
    assert session_projects(server, url, "boss@example.com") == ["alpha"]
    assert reported == {"alpha": [(ADMIN, "member OWNER"), ("ann@example.com", "removed"),
                                  ("bob@example.com", "removed"), ("boss@example.com", "removed")]}


def test_an_invitation_never_outlives_its_account(db, tmp_path):
    """Langfuse applies all of a user's invitations in one transaction, and only when the account is
    created or an SSO account linked: an invitation to an organization the user already belongs to
    fails them all. A person who signed up without the invitation being applied (here: the account
    existed before it was written) gets the membership written directly, and no invitation stays."""
    server, url = db
    reconcile(url, tmp_path, {"alpha": {"gus@example.com": "member"}, "beta": {"gus@example.com": "viewer"}})
    gus = create_user(server, url, "Gus@Example.com")  # an SSO account keeps the provider's spelling

    reported = reconcile(url, tmp_path, {"alpha": {"gus@example.com": "member"}, "beta": {"gus@example.com": "viewer"}})

    assert dict(reported["alpha"])["gus@example.com"] == "member MEMBER"
    assert server.psql(url, "SELECT count(*) FROM membership_invitations").strip() == "0"
    apply_invitations(server, url, "Gus@Example.com", gus)  # an SSO account linked later: nothing breaks
    # The failure this avoids, reproduced: an invitation to an organization the user is in fails Langfuse's transaction.
    server.psql(url, "INSERT INTO membership_invitations (id, email, org_id, org_role) VALUES ('i', 'gus@example.com', 'team-alpha', 'MEMBER')")
    with pytest.raises(RuntimeError, match="organization_memberships_org_id_user_id_key"):
        apply_invitations(server, url, "Gus@Example.com", gus)


def test_invitations_to_several_teams_apply_at_sign_up(db, tmp_path):
    server, url = db
    reconcile(url, tmp_path, {"alpha": {"hal@example.com": "viewer"}, "beta": {"hal@example.com": "admin"},
                              "gamma": {}})
    sign_up(server, url, "hal@example.com")

    assert session_projects(server, url, "hal@example.com") == ["alpha", "beta"]
    assert server.psql(url, "SELECT o.id, m.role FROM organization_memberships m JOIN organizations o ON o.id = m.org_id "
                            "JOIN users u ON u.id = m.user_id WHERE u.email = 'hal@example.com' ORDER BY 1").split() == [
        "team-alpha|VIEWER", "team-beta|ADMIN"]


def test_a_stack_from_before_moves_each_project_into_its_team_organization(db, tmp_path):
    """Before: every team project in the platform's organization, whose members (added by hand)
    saw them all. After one run: each project in its own organization, moved as Langfuse's transfer
    moves it (its project memberships deleted), its keys listed for Langfuse's key cache; the
    platform organization's members see the platform project only."""
    server, url = db
    old = create_user(server, url, "old@example.com")
    legacy = langfuse_sql(org_id=PLATFORM, org_name="Acme", salt=SALT, generated=[], team_orgs=[], document_teams=[],
                          keep_removed_projects=True, removed_projects_path=str(tmp_path / "r"),
                          cached_keys_path=str(tmp_path / "c"))
    apply(url, legacy, tmp_path)
    server.psql(url, f"""
        INSERT INTO projects (id, org_id, name, metadata) VALUES ('alpha', '{PLATFORM}', 'alpha', '{{"managed-by": "llm-gateway"}}');
        INSERT INTO api_keys (id, public_key, hashed_secret_key, fast_hashed_secret_key, display_secret_key, note, project_id)
          VALUES ('k', 'pk-lf-old', 'h', 'fast-of-old', 'd', 'made in the UI', 'alpha');
        INSERT INTO organization_memberships (id, org_id, user_id, role) VALUES ('m-old', '{PLATFORM}', '{old}', 'MEMBER');
        INSERT INTO project_memberships (project_id, user_id, org_membership_id, role) VALUES ('alpha', '{old}', 'm-old', 'ADMIN');""")
    assert session_projects(server, url, "old@example.com") == ["alpha", "platform"]

    reconcile(url, tmp_path, {"alpha": {}}, keep=True)

    assert session_projects(server, url, "old@example.com") == ["platform"]
    assert server.psql(url, "SELECT org_id FROM projects WHERE id = 'alpha'").strip() == "team-alpha"
    assert server.psql(url, "SELECT count(*) FROM project_memberships").strip() == "0"
    assert "fast-of-old" in (tmp_path / "cached-keys.txt").read_text().split()
    assert server.psql(url, "SELECT public_key FROM api_keys WHERE project_id = 'alpha' ORDER BY 1").split() == [
        "pk-lf-alpha", "pk-lf-old"]  # keys are the project's: the UI's one moves with it
    # Moved once: the next run lists nothing of it.
    reconcile(url, tmp_path, {"alpha": {}}, keep=True)
    assert "fast-of-old" not in (tmp_path / "cached-keys.txt").read_text().split()


def test_a_removed_team_loses_its_members_and_keeps_its_organization(db, tmp_path):
    server, url = db
    create_user(server, url, "ann@example.com")
    reconcile(url, tmp_path, {"alpha": {"ann@example.com": "member"}, "beta": {}})

    reported = reconcile(url, tmp_path, {"beta": {}}, keep=True)

    assert session_projects(server, url, "ann@example.com") == []
    assert reported["alpha"] == [(ADMIN, "removed"), ("ann@example.com", "removed")]
    assert server.psql(url, "SELECT id, deleted_at IS NULL FROM projects WHERE org_id = 'team-alpha'").split() == ["alpha|t"]


def test_a_new_admin_takes_over_every_team_organization(db, tmp_path):
    server, url = db
    create_user(server, url, "ops@example.com")
    reconcile(url, tmp_path, {"alpha": {}})

    reconcile(url, tmp_path, {"alpha": {}}, admin="ops@example.com")

    assert session_projects(server, url, "ops@example.com") == ["alpha"]
    assert session_projects(server, url, ADMIN) == ["platform"]
