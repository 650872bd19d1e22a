"""The team plane's LiteLLM admin client (team_plane/litellm.py) against the fake admin API
(tests/support/fake_litellm_admin.py): the failures a reconcile meets, told clearly and without a
secret. The reconcile itself (create, adopt, update only diffs, drift, removal, partial failure) is
tests/unit/test_team_plane_job.py."""

from __future__ import annotations

import socket

import pytest

from team_plane.litellm import LiteLLMAdminClient, LiteLLMAdminError, TeamSpec, ensure_team, redact
from tests.support.fake_litellm_admin import running_fake_admin
from tests.support.litellm_proxy import free_port, random_master_key

MASTER_KEY = random_master_key()
RETRY_DELAYS = (0.01, 0.02)
TEAM = TeamSpec(team_id="mle", models=("sonnet",), max_budget=100.0, budget_duration="30d")


@pytest.fixture
def admin():
    with running_fake_admin(MASTER_KEY) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client(url: str, sleeps: list[float], master_key: str = MASTER_KEY, timeout: float = 2.0,
           retry_delays: tuple[float, ...] = RETRY_DELAYS) -> LiteLLMAdminClient:
    return LiteLLMAdminClient(url, master_key, timeout_seconds=timeout, retry_delays=retry_delays, sleep=sleeps.append)


def test_an_unreachable_proxy_is_retried_then_named(sleeps):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    with pytest.raises(LiteLLMAdminError) as raised:
        ensure_team(client(url, sleeps), TEAM)

    message = str(raised.value)
    assert f"cannot reach the LiteLLM proxy at {url}" in message and "3 attempts" in message
    assert MASTER_KEY not in message
    assert sleeps == list(RETRY_DELAYS)


def test_a_proxy_that_never_answers_times_out(sleeps):
    with socket.socket() as silent:  # accepts connections (backlog) but never responds
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        with pytest.raises(LiteLLMAdminError, match=f"cannot reach the LiteLLM proxy at {url} .*timed out"):
            client(url, sleeps, timeout=0.02, retry_delays=(0.0,)).team_info("mle")


def test_a_proxy_that_is_still_starting_is_retried(admin, sleeps):
    admin.unavailable_responses = 2  # what a load balancer or a restarting task answers

    assert ensure_team(client(admin.url, sleeps), TEAM) == "created"
    assert "mle" in admin.teams and sleeps == list(RETRY_DELAYS)


def test_a_wrong_master_key_is_refused_clearly_without_the_key(admin, sleeps):
    wrong_key = random_master_key()

    with pytest.raises(LiteLLMAdminError) as raised:
        ensure_team(client(admin.url, sleeps, master_key=wrong_key), TEAM)

    message = str(raised.value)
    assert f"the LiteLLM proxy at {admin.url} refused the master key" in message and "HTTP 401" in message
    for leaked in (wrong_key, wrong_key[-4:], MASTER_KEY):
        assert leaked not in message
    assert admin.teams == {}


def test_other_http_errors_carry_status_and_body(admin, sleeps):
    with pytest.raises(LiteLLMAdminError) as raised:
        ensure_team(client(admin.url, sleeps), TeamSpec(team_id="mle", max_budget=1.0, budget_duration="monthly"))

    message = str(raised.value)
    assert f"LiteLLM proxy POST {admin.url}/team/new failed with HTTP 400" in message
    assert "Invalid budget_duration 'monthly'" in message and MASTER_KEY not in message


def test_error_bodies_lose_the_master_key_and_its_abbreviation():
    body = f'{{"error": "key {MASTER_KEY} (sk-...{MASTER_KEY[-4:]}) is not allowed"}}'

    assert redact(body, MASTER_KEY) == '{"error": "key *** (sk-...***) is not allowed"}'


def test_members_and_keys_as_the_pinned_proxy_answers_them(admin, sleeps):
    """The refusals a reconcile meets, as LiteLLM 1.104.0 words them (tests/support/fake_litellm_admin.py)."""
    from team_plane.litellm import PremiumRequired
    from team_plane.litellm_keys import token_hash

    proxy = client(admin.url, sleeps)
    admin.add_team("mle")
    proxy.add_member("mle", "ana@example.com", "user")
    proxy.add_member("mle", "ana@example.com", "user")  # 400 team_member_already_in_team: already there is fine
    assert [m["user_email"] for m in admin.roster("mle")] == ["ana@example.com"]
    with pytest.raises(PremiumRequired, match="premium feature"):  # no LITELLM_LICENSE
        proxy.add_member("mle", "bo@example.com", "admin")
    with pytest.raises(PremiumRequired):
        proxy.set_member_role("mle", admin.roster("mle")[0]["user_id"], "admin")
    proxy.remove_member("mle", "no-such-user")  # 400 "User not found in team": gone is fine

    key = "sk-" + "c" * 48
    assert proxy.key_info(token_hash(key)) is None  # 404: never registered
    proxy.generate_key({"key": key, "team_id": "mle", "key_alias": "llm-gateway/mle/ci/cccc"})
    with pytest.raises(LiteLLMAdminError, match="already exists") as raised:  # aliases are unique across keys
        proxy.generate_key({"key": "sk-" + "d" * 48, "team_id": "mle", "key_alias": "llm-gateway/mle/ci/cccc"})
    assert "d" * 8 not in str(raised.value)
    assert proxy.key_info(token_hash(key))["status"] == "active"
    assert [row["token"] for row in proxy.team_keys("mle")] == [token_hash(key)]
    proxy.delete_keys([token_hash(key)])
    assert proxy.key_info(token_hash(key))["status"] == "deleted"  # the archive
    proxy.delete_keys([token_hash(key)])  # 404 "No keys found": gone is fine


def test_a_team_with_more_keys_than_a_page_is_listed_whole(admin, sleeps):
    admin.add_team("mle")
    for i in range(230):  # /key/list pages at most 100
        admin.keys[f"hash-{i:03d}"] = {"token": f"hash-{i:03d}", "team_id": "mle", "created_at": f"2026-01-01T00:00:{i % 60:02d}"}
    assert len({row["token"] for row in client(admin.url, sleeps).team_keys("mle")}) == 230
