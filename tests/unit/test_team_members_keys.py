"""A team's people and virtual keys in LiteLLM, reconciled by the team plane's plan step
(team_plane/litellm_members.py, team_plane/litellm_keys.py) against the fake admin API built from
the pinned proxy's source (tests/support/fake_litellm_admin.py), then reported by verify."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from team_plane import job
from team_plane.document import DOCUMENT_VERSION
from team_plane.litellm_keys import token_hash
from team_plane.litellm_members import MANAGED_MEMBERS_KEY
from tests.support.fake_langfuse import running_fake_langfuse
from tests.support.fake_litellm_admin import running_fake_admin
from tests.support.litellm_proxy import random_master_key

MASTER_KEY = random_master_key()
FAST = {"retry_delays": (0.01,), "sleep": lambda _s: None}
LANGFUSE_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-gateway-stg/langfuse-keys/teams/{}-AbCdEf"
KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-gateway-stg/litellm-keys/teams/{}/{}-XyZ123"
ADMIN = "admin@example.com"


def team(name: str, members: Mapping[str, str] = {}, keys: Mapping[str, dict] = {}, **fields) -> dict:
    """A team as the document carries it; `keys`: name -> {"value", "maxBudget"?, "models"?}."""
    return {
        "name": name, "models": ["sonnet"], "maxBudget": None, "budgetDuration": None, "rpmLimit": None, "tpmLimit": None,
        "langfuseKeys": "generate", "keySecretArn": LANGFUSE_ARN.format(name), "keySecretVersion": f"v-{name}",
        "publicKeyVar": f"LANGFUSE_PUBLIC_KEY_{name.upper()}", "secretKeyVar": f"LANGFUSE_SECRET_KEY_{name.upper()}",
        "members": [{"email": email, "role": role} for email, role in members.items()],
        "keys": [{"name": key, "maxBudget": spec.get("maxBudget"), "models": spec.get("models", []),
                  "secretArn": KEY_ARN.format(name, key), "secretVersion": spec["value"]} for key, spec in keys.items()],
        "smokeModel": "sonnet", **fields,
    }


def document(*teams: dict, team_admins: bool = False) -> str:
    return json.dumps({"version": DOCUMENT_VERSION, "stack": "stg", "environment": "stg", "keepRemovedProjects": False,
                       "langfuseAdmin": ADMIN, "litellmTeamAdmins": team_admins,
                       "platformKeys": {"keySecretArn": LANGFUSE_ARN.format("platform"), "keySecretVersion": "v-platform"},
                       "teams": list(teams)})


def fetch(arn: str, version: str) -> dict[str, str]:
    """Langfuse pairs by their version ("v-<team>"); a LiteLLM key's version is its value here."""
    if "/litellm-keys/" in arn:
        if version == "unreadable":
            raise RuntimeError("AccessDeniedException")
        return {"apiKey": version}
    team_name = version.removeprefix("v-")
    return {"publicKey": f"pk-lf-{team_name}", "secretKey": f"sk-lf-{team_name}"}


def env(admin, langfuse_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    return {"LLM_GATEWAY_TEAM_DOCUMENT": "s3://bucket/team-plane/desired.json", "LITELLM_INTERNAL_URL": admin.url,
            "LITELLM_MASTER_KEY": MASTER_KEY, "SALT": "c2FsdA==", "LANGFUSE_ORG_ID": "llm-gateway",
            "LANGFUSE_ORG_NAME": "Acme", "LANGFUSE_INTERNAL_URL": langfuse_url}


def run(admin, tmp_path, text: str) -> tuple[list[str], bool]:
    record = job.plan(env(admin), str(tmp_path), read=lambda _l: text, fetch=fetch, **FAST)
    projects = {f"pk-lf-{name}": (f"sk-lf-{name}", name) for name in record["teams"]}
    with running_fake_langfuse(projects) as langfuse:
        return job.verify(env(admin, langfuse.url), str(tmp_path), read=lambda _l: text, fetch=fetch, **FAST)


def writes(admin) -> list[tuple[str, dict]]:
    return [(r.path, r.body) for r in admin.requests if r.method == "POST"]


@pytest.fixture
def admin():
    with running_fake_admin(MASTER_KEY) as fake:
        yield fake


@pytest.fixture
def licensed():
    with running_fake_admin(MASTER_KEY, premium=True) as fake:
        yield fake


KEY_A, KEY_B = "sk-" + "a" * 48, "sk-" + "b" * 48


# -- members ----------------------------------------------------------------------------------------


def test_members_join_the_team_and_an_admin_is_a_user_without_a_licence(admin, tmp_path):
    text = document(team("mle", {"ann@example.com": "admin", "bob@example.com": "member", "cy@example.com": "viewer"}))

    lines, ok = run(admin, tmp_path, text)

    assert ok
    assert {m["user_email"]: m["role"] for m in admin.roster("mle")} == {
        "ann@example.com": "user", "bob@example.com": "user", "cy@example.com": "user"}
    assert lines[0] == (
        "team mle: created (litellm team created; litellm members: ann@example.com user, bob@example.com user, "
        "cy@example.com user; ann@example.com is a team user: LiteLLM makes team admins only with LITELLM_LICENSE; "
        "langfuse project mle, keys verified)")
    assert admin.teams["mle"]["metadata"][MANAGED_MEMBERS_KEY] == ["ann@example.com", "bob@example.com", "cy@example.com"]


def test_with_a_licence_an_admin_is_a_team_admin_and_a_second_run_changes_nothing(licensed, tmp_path):
    text = document(team("mle", {"ann@example.com": "admin", "bob@example.com": "member"}), team_admins=True)
    run(licensed, tmp_path, text)
    count = len(writes(licensed))

    lines, ok = run(licensed, tmp_path, text)

    assert ok and lines[0].startswith("team mle: unchanged (litellm team unchanged; litellm members: "
                                      "ann@example.com admin, bob@example.com user; langfuse")
    assert len(writes(licensed)) == count
    # A role changes: the member's role is updated in place.
    run(licensed, tmp_path, document(team("mle", {"ann@example.com": "member", "bob@example.com": "admin"}),
                                     team_admins=True))
    assert {m["user_email"]: m["role"] for m in licensed.roster("mle")} == {"ann@example.com": "user",
                                                                           "bob@example.com": "admin"}
    assert [path for path, _ in writes(licensed)[count:]] == ["/team/member_update", "/team/member_update"]


def test_a_licence_the_proxy_refuses_leaves_the_admin_a_user_and_says_so(admin, tmp_path):
    lines, ok = run(admin, tmp_path, document(team("mle", {"ann@example.com": "admin"}), team_admins=True))

    assert ok and [m["role"] for m in admin.roster("mle")] == ["user"]
    assert "ann@example.com is a team user: the proxy refused a team admin" in lines[0]


def test_removal_revokes_and_people_added_by_hand_stay(admin, tmp_path):
    run(admin, tmp_path, document(team("mle", {"ann@example.com": "member", "bob@example.com": "member"},
                                       keys={"ci": {"value": KEY_A}})))
    admin.add_member("mle", "eve@example.com")  # added in LiteLLM's UI
    bob = next(m["user_id"] for m in admin.roster("mle") if m["user_email"] == "bob@example.com")
    admin.keys["bobs-own"] = {"token": "bobs-own", "user_id": bob, "team_id": "mle", "metadata": {}, "key_alias": None,
                              "models": [], "max_budget": None, "expires": None, "created_at": "2026-01-01"}

    lines, ok = run(admin, tmp_path, document(team("mle", {"ann@example.com": "member"}, keys={"ci": {"value": KEY_A}})))

    assert ok and "litellm member bob@example.com removed" in lines[0]
    assert sorted(m["user_email"] for m in admin.roster("mle")) == ["ann@example.com", "eve@example.com"]
    assert "bobs-own" not in admin.keys  # LiteLLM deletes the keys a removed member made for the team
    assert token_hash(KEY_A) in admin.keys  # the team's own keys belong to no member
    assert admin.teams["mle"]["metadata"][MANAGED_MEMBERS_KEY] == ["ann@example.com"]


def test_a_member_added_by_hand_in_another_case_is_adopted(admin, tmp_path):
    run(admin, tmp_path, document(team("mle")))
    admin.add_member("mle", "Ann@Example.com")

    lines, ok = run(admin, tmp_path, document(team("mle", {"ann@example.com": "member"})))

    assert ok and len(admin.roster("mle")) == 1
    assert "/team/member_add" not in [path for path, _ in writes(admin)]


# -- keys -------------------------------------------------------------------------------------------


def test_a_key_is_registered_for_its_team_once(admin, tmp_path):
    text = document(team("mle", keys={"ci": {"value": KEY_A, "maxBudget": 20, "models": ["sonnet"]}}))

    lines, ok = run(admin, tmp_path, text)

    row = admin.keys[token_hash(KEY_A)]
    assert (row["team_id"], row["max_budget"], row["models"]) == ("mle", 20, ["sonnet"])
    assert row["key_alias"] == f"llm-gateway/mle/ci/{token_hash(KEY_A)[:8]}"
    assert row["metadata"] == {"managed-by": "llm-gateway", "llm-gateway-key": "ci"}
    assert ok and f"key ci registered ({KEY_ARN.format('mle', 'ci')})" in lines[0]
    assert KEY_A not in "\n".join(lines)
    count = len(writes(admin))
    lines, ok = run(admin, tmp_path, text)
    assert ok and "key ci unchanged (" in lines[0] and len(writes(admin)) == count


def test_a_changed_budget_is_updated_in_place(admin, tmp_path):
    run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_A, "maxBudget": 20, "models": ["sonnet"]}})))

    lines, ok = run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_A, "models": ["sonnet"]}})))

    assert ok and "key ci updated (" in lines[0]
    assert writes(admin)[-1] == ("/key/update", {"key": token_hash(KEY_A), "max_budget": None})
    assert admin.keys[token_hash(KEY_A)]["max_budget"] is None


def test_a_rotation_registers_the_new_value_then_deletes_the_old(admin, tmp_path):
    run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_A}})))

    lines, ok = run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_B}})))

    assert ok and "key ci rotated (" in lines[0]
    assert [path for path, _ in writes(admin)[-2:]] == ["/key/generate", "/key/delete"]
    assert set(admin.keys) == {token_hash(KEY_B)} and token_hash(KEY_A) in admin.deleted_keys


def test_a_key_whose_entry_goes_is_deleted_and_one_made_by_hand_stays(admin, tmp_path):
    run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_A}, "batch": {"value": KEY_B}})))
    admin.keys["by-hand"] = {"token": "by-hand", "team_id": "mle", "user_id": None, "metadata": {}, "key_alias": "x",
                             "models": [], "max_budget": None, "expires": None, "created_at": "2026-01-01"}

    lines, ok = run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_A}})))

    assert ok and "key batch deleted" in lines[0]
    assert set(admin.keys) == {token_hash(KEY_A), "by-hand"}


def test_a_deleted_key_comes_back(admin, tmp_path):
    text = document(team("mle", keys={"ci": {"value": KEY_A}}))
    run(admin, tmp_path, text)
    run(admin, tmp_path, document(team("mle")))
    assert token_hash(KEY_A) in admin.deleted_keys  # /key/info answers it with status "deleted"

    lines, ok = run(admin, tmp_path, text)

    assert ok and "key ci registered (" in lines[0] and token_hash(KEY_A) in admin.keys


def test_a_value_registered_for_another_team_fails_the_team(admin, tmp_path):
    admin.add_team("other")
    admin.keys[token_hash(KEY_A)] = {"token": token_hash(KEY_A), "team_id": "other", "metadata": {}, "user_id": None,
                                     "key_alias": None, "models": [], "max_budget": None, "expires": None,
                                     "created_at": "2026-01-01"}

    lines, ok = run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_A}})))

    assert not ok and lines[0].startswith("team mle: failed (") and "registered for team 'other'" in lines[0]


def test_a_failed_registration_keeps_the_old_value_working(admin, tmp_path):
    run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_A}})))

    def refuse(request):
        if request.path == "/key/generate":
            request.body["key"] = "not-a-key-" + KEY_B  # what LiteLLM refuses, echoing part of it
    admin.on_request = refuse
    lines, ok = run(admin, tmp_path, document(team("mle", keys={"ci": {"value": KEY_B}})))

    assert not ok and "key ci: LiteLLM proxy POST" in lines[0] and "HTTP 400" in lines[0]
    assert token_hash(KEY_A) in admin.keys  # not deleted: the team's service still works
    assert KEY_B not in lines[0] and KEY_B[-4:] not in lines[0]


def test_an_unreadable_key_secret_fails_the_team_by_name(admin, tmp_path):
    lines, ok = run(admin, tmp_path, document(team("mle", keys={"ci": {"value": "unreadable"}})))

    assert not ok and "cannot read its LiteLLM key secrets: RuntimeError: AccessDeniedException" in lines[0]


def test_expired_smoke_keys_are_cleared_and_live_ones_stay(admin, tmp_path):
    run(admin, tmp_path, document(team("mle")))
    past, future = (datetime.now(UTC) + timedelta(minutes=m) for m in (-20, 5))
    for token, expires in (("smoke-old", past), ("smoke-now", future)):
        admin.keys[token] = {"token": token, "team_id": "mle", "user_id": None, "key_alias": token, "models": [],
                             "max_budget": 0.01, "expires": expires.isoformat(), "created_at": "2026-01-01",
                             "metadata": {"managed-by": "llm-gateway", "llm-gateway-smoke": "m"}}

    run(admin, tmp_path, document(team("mle")))

    assert set(admin.keys) == {"smoke-now"}


def test_expiry_reads_litellm_times():
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert job.expired({"expires": "2026-05-01T11:59:00"}, now)  # naive: UTC
    assert job.expired({"expires": "2026-05-01T11:59:00Z"}, now)
    assert not job.expired({"expires": "2026-05-01T12:01:00+00:00"}, now)
    assert not job.expired({"expires": None}, now)
