"""LiteLLMTeam: its provider against a loopback fake of the proxy's team admin API, its
serialization as the engine sees it, and its registration (master key secret)."""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import Any

import pytest
from pulumi.output import Unknown

from components.litellm_team import (
    LiteLLMAdminError,
    LiteLLMTeam,
    LiteLLMTeamArgs,
    LiteLLMTeamProvider,
    redact,
)
from tests.support.fake_litellm_admin import FakeLiteLLMAdmin, running_fake_admin
from tests.support.litellm_proxy import free_port, random_master_key
from tests.support.pulumi_mocks import is_secret, plain_strings, run_pulumi

MASTER_KEY = random_master_key()
RETRY_DELAYS = (0.01, 0.02)
# Team settings that, stored in LiteLLM's database, would override the config's default_team_settings
# (metadata is sent only to remove them).
FORBIDDEN_WORDS = ("callback", "logging")


def keys_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(key for item in value.values() for key in keys_in(item))]
    if isinstance(value, list):
        return [key for item in value for key in keys_in(item)]
    return []


@pytest.fixture
def admin():
    with running_fake_admin(MASTER_KEY) as fake:
        yield fake
        # Whatever the test did, no request may have carried callback or logging settings.
        sent = [key for body in fake.bodies() for key in keys_in(body)]
        assert not [key for key in sent if any(word in key for word in FORBIDDEN_WORDS)], sent


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(sleeps) -> LiteLLMTeamProvider:
    return LiteLLMTeamProvider(retry_delays=RETRY_DELAYS, request_timeout_seconds=2.0, sleep=sleeps.append)


def team_props(admin: FakeLiteLLMAdmin | None = None, **overrides) -> dict[str, Any]:
    """Inputs as the engine hands them to the provider: numbers as floats, secrets unwrapped."""
    return {
        "proxy_url": admin.url if admin else "https://litellm.example.com",
        "master_key": MASTER_KEY,
        "team_id": "mle",
        "models": ["sonnet", "titan"],
        "max_budget": 100.0,
        "budget_duration": "30d",
        "rpm_limit": 60.0,
        "tpm_limit": 100000.0,
        "__provider": "serialized-provider",
        **overrides,
    }


def stored_outputs(outs: dict[str, Any]) -> dict[str, Any]:
    """Outputs as the engine hands them back later (`olds`): numbers as floats, nulls dropped."""
    return {key: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
            for key, value in outs.items() if value is not None}


def managed(team: dict[str, Any]) -> dict[str, Any]:
    keys = ("team_alias", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit")
    return {key: team[key] for key in keys}


def requests_to(admin: FakeLiteLLMAdmin, path: str) -> list[Any]:
    return [request.body for request in admin.requests if request.path == path]


def test_create_makes_a_team_with_exactly_our_id(admin, provider):
    result = provider.create(team_props(admin))

    assert result.id == "mle"
    assert managed(admin.teams["mle"]) == {
        "team_alias": "mle", "models": ["sonnet", "titan"], "max_budget": 100.0, "budget_duration": "30d",
        "rpm_limit": 60, "tpm_limit": 100000,
    }
    assert admin.teams["mle"]["budget_reset_at"] is not None
    assert result.outs == {
        "proxy_url": admin.url, "master_key": MASTER_KEY, "team_id": "mle", "models": ["sonnet", "titan"],
        "max_budget": 100.0, "budget_duration": "30d", "rpm_limit": 60, "tpm_limit": 100000,
        "logging_overridden": False,
    }
    assert [(r.method, r.path) for r in admin.requests] == [("GET", "/team/info"), ("POST", "/team/new")]


def test_create_with_no_limits_allows_every_model(admin, provider):
    props = team_props(admin, models=[], max_budget=None, budget_duration=None, rpm_limit=None, tpm_limit=None)

    provider.create({key: value for key, value in props.items() if value is not None})  # the engine drops nulls

    assert managed(admin.teams["mle"]) == {
        "team_alias": "mle", "models": [], "max_budget": None, "budget_duration": None,
        "rpm_limit": None, "tpm_limit": None,
    }


def test_create_adopts_an_existing_team_and_only_sends_what_differs(admin, provider):
    admin.add_team("mle", models=["sonnet", "titan"], max_budget=50.0, budget_duration="30d",
                   rpm_limit=60, tpm_limit=100000)  # made by hand, without an alias

    result = provider.create(team_props(admin))

    assert result.id == "mle"
    assert requests_to(admin, "/team/new") == []
    assert requests_to(admin, "/team/update") == [
        # Adopting marks the team as ours (team_plane/litellm.py MANAGED_BY).
        {"team_id": "mle", "team_alias": "mle", "max_budget": 100.0, "metadata": {"managed-by": "llm-gateway"}},
    ]
    assert admin.teams["mle"]["max_budget"] == 100.0


def test_create_adopts_a_team_that_appears_between_lookup_and_creation(admin, provider):
    # What a retried POST /team/new sees when the first one reached the proxy but timed out here.
    def created_meanwhile(request):
        if request.path == "/team/new" and "mle" not in admin.teams:
            admin.add_team("mle", team_alias="mle", models=["sonnet", "titan"], max_budget=100.0,
                           budget_duration="30d", rpm_limit=5, tpm_limit=100000)

    admin.on_request = created_meanwhile

    provider.create(team_props(admin))

    assert [(r.method, r.path) for r in admin.requests] == [
        ("GET", "/team/info"), ("POST", "/team/new"), ("GET", "/team/info"), ("POST", "/team/update"),
    ]
    assert requests_to(admin, "/team/update") == [{"team_id": "mle", "rpm_limit": 60, "metadata": {"managed-by": "llm-gateway"}}]
    assert admin.teams["mle"]["rpm_limit"] == 60


def test_read_returns_the_live_team(admin, provider):
    outputs = stored_outputs(provider.create(team_props(admin)).outs)

    result = provider.read("mle", outputs)

    assert (result.id, result.outs) == ("mle", outputs)


def test_read_of_a_team_deleted_outside_pulumi_reports_it_gone(admin, provider):
    outputs = stored_outputs(provider.create(team_props(admin)).outs)
    del admin.teams["mle"]

    assert provider.read("mle", outputs).id is None


def test_update_changes_limits_and_clears_a_removed_one(admin, provider):
    olds = stored_outputs(provider.create(team_props(admin)).outs)
    news = {key: value for key, value in team_props(admin, rpm_limit=120.0).items() if key != "tpm_limit"}

    assert provider.diff("mle", olds, news).changes
    result = provider.update("mle", olds, news)

    assert requests_to(admin, "/team/update") == [{"team_id": "mle", "rpm_limit": 120, "tpm_limit": None}]
    assert (admin.teams["mle"]["rpm_limit"], admin.teams["mle"]["tpm_limit"]) == (120, None)
    assert result.outs["tpm_limit"] is None and result.outs["rpm_limit"] == 120


def test_update_leaves_an_unchanged_budget_window_alone(admin, provider):
    olds = stored_outputs(provider.create(team_props(admin)).outs)
    reset_at = admin.teams["mle"]["budget_reset_at"]

    provider.update("mle", olds, team_props(admin, max_budget=200.0))

    assert requests_to(admin, "/team/update") == [{"team_id": "mle", "max_budget": 200.0}]
    assert admin.teams["mle"]["budget_reset_at"] == reset_at


def test_update_that_changes_nothing_remote_sends_no_write(admin, provider):
    olds = stored_outputs(provider.create(team_props(admin)).outs)
    rotated = random_master_key()
    admin.master_key = rotated

    result = provider.update("mle", olds, team_props(admin, master_key=rotated))

    assert requests_to(admin, "/team/update") == []
    assert result.outs["master_key"] == rotated  # delete and read will use the current key


def test_drift_is_read_back_and_corrected(admin, provider):
    desired = team_props(admin)
    outputs = stored_outputs(provider.create(desired).outs)
    admin.teams["mle"].update(max_budget=999.0, models=["sonnet"])  # someone used the admin UI

    refreshed = provider.read("mle", outputs).outs
    assert (refreshed["max_budget"], refreshed["models"]) == (999.0, ["sonnet"])
    assert provider.diff("mle", stored_outputs(refreshed), desired).changes

    provider.update("mle", stored_outputs(refreshed), desired)

    assert requests_to(admin, "/team/update") == [
        {"team_id": "mle", "models": ["sonnet", "titan"], "max_budget": 100.0},
    ]
    assert (admin.teams["mle"]["max_budget"], admin.teams["mle"]["models"]) == (100.0, ["sonnet", "titan"])


def test_disabled_logging_is_drift_and_is_undone_keeping_other_metadata(admin, provider):
    desired = team_props(admin)
    outputs = stored_outputs(provider.create(desired).outs)
    admin.teams["mle"]["metadata"].update(cost_center="42", team_member_budget_id="budget-1")
    # A team admin silences the team (LiteLLM then ignores the config's default_team_settings entry).
    request = urllib.request.Request(f"{admin.url}/team/mle/disable_logging", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200

    refreshed = stored_outputs(provider.read("mle", outputs).outs)
    assert refreshed["logging_overridden"] is True
    assert provider.diff("mle", refreshed, desired).changes

    result = provider.update("mle", refreshed, desired)

    assert requests_to(admin, "/team/update") == [
        {"team_id": "mle", "metadata": {"managed-by": "llm-gateway", "cost_center": "42", "team_member_budget_id": "budget-1"}},
    ]
    assert admin.teams["mle"]["metadata"] == {"managed-by": "llm-gateway", "cost_center": "42", "team_member_budget_id": "budget-1"}
    assert result.outs["logging_overridden"] is False
    assert provider.read("mle", stored_outputs(result.outs)).outs["logging_overridden"] is False


def test_an_adopted_team_with_its_own_callbacks_is_put_back_on_the_config(admin, provider):
    admin.add_team("mle", team_alias="mle", models=["sonnet", "titan"], max_budget=100.0, budget_duration="30d",
                   rpm_limit=60, tpm_limit=100000,
                   metadata={"logging": [{"callback_name": "langfuse", "callback_type": "success"}]})

    provider.create(team_props(admin))

    assert requests_to(admin, "/team/update") == [{"team_id": "mle", "metadata": {"managed-by": "llm-gateway"}}]


def test_update_recreates_a_team_deleted_outside_pulumi(admin, provider):
    olds = stored_outputs(provider.create(team_props(admin)).outs)
    del admin.teams["mle"]

    provider.update("mle", olds, team_props(admin, rpm_limit=10.0))

    assert admin.teams["mle"]["rpm_limit"] == 10


@pytest.mark.parametrize("change, replaces", [
    ({"team_id": "credit-risk"}, ["team_id"]),
    ({"models": ["sonnet"]}, []),
    ({"max_budget": 5.0}, []),
    ({"budget_duration": "7d"}, []),
    ({"tpm_limit": None}, []),
    ({"proxy_url": "https://litellm.other.example.com"}, []),
    ({"master_key": Unknown()}, []),  # preview while the key secret changes
])
def test_diff_replaces_only_for_a_new_team_id(change, replaces):
    olds = stored_outputs({key: value for key, value in team_props().items() if key != "__provider"})

    result = LiteLLMTeamProvider().diff("mle", olds, team_props(**change))

    assert result.changes is True
    assert result.replaces == replaces


def test_diff_of_unchanged_inputs_is_no_change():
    olds = stored_outputs({key: value for key, value in team_props().items() if key != "__provider"})
    assert LiteLLMTeamProvider().diff("mle", olds, team_props()).changes is False


def test_delete_removes_the_team_and_a_second_delete_is_fine(admin, provider):
    outputs = stored_outputs(provider.create(team_props(admin)).outs)

    provider.delete("mle", outputs)
    provider.delete("mle", outputs)  # already gone, e.g. deleted in the admin UI

    assert "mle" not in admin.teams
    assert requests_to(admin, "/team/delete") == [{"team_ids": ["mle"]}] * 2


def test_an_unreachable_proxy_is_retried_then_named(provider, sleeps):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    with pytest.raises(LiteLLMAdminError) as raised:
        provider.create(team_props(proxy_url=url))

    message = str(raised.value)
    assert f"cannot reach the LiteLLM proxy at {url}" in message
    assert "3 attempts" in message and "allowedCidrs" in message
    assert MASTER_KEY not in message
    assert sleeps == list(RETRY_DELAYS)


def test_a_proxy_that_never_answers_times_out(sleeps):
    with socket.socket() as silent:  # accepts connections (backlog) but never responds
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        provider = LiteLLMTeamProvider(retry_delays=(0.0,), request_timeout_seconds=0.1, sleep=sleeps.append)

        with pytest.raises(LiteLLMAdminError, match=f"cannot reach the LiteLLM proxy at {url} .*timed out"):
            provider.read("mle", team_props(proxy_url=url))


def test_a_load_balancer_503_while_the_proxy_starts_is_retried(admin, provider, sleeps):
    admin.unavailable_responses = 2

    provider.create(team_props(admin))

    assert "mle" in admin.teams
    assert sleeps == list(RETRY_DELAYS)


def test_a_wrong_master_key_is_refused_clearly_without_the_key(admin, provider):
    wrong_key = random_master_key()

    with pytest.raises(LiteLLMAdminError) as raised:
        provider.create(team_props(admin, master_key=wrong_key))

    message = str(raised.value)
    assert f"the LiteLLM proxy at {admin.url} refused the master key" in message and "HTTP 401" in message
    for leaked in (wrong_key, wrong_key[-4:], MASTER_KEY):
        assert leaked not in message
    assert admin.teams == {}


def test_other_http_errors_carry_status_and_body(admin, provider):
    with pytest.raises(LiteLLMAdminError) as raised:
        provider.create(team_props(admin, budget_duration="monthly"))

    message = str(raised.value)
    assert f"LiteLLM proxy POST {admin.url}/team/new failed with HTTP 400" in message
    assert "Invalid budget_duration 'monthly'" in message
    assert MASTER_KEY not in message


def test_error_bodies_lose_the_master_key_and_its_abbreviation():
    body = f'{{"error": "key {MASTER_KEY} (sk-...{MASTER_KEY[-4:]}) is not allowed"}}'

    assert redact(body, MASTER_KEY) == '{"error": "key *** (sk-...***) is not allowed"}'


def test_registers_as_a_dynamic_resource_with_the_master_key_secret():
    def build():
        LiteLLMTeam("team-mle", LiteLLMTeamArgs(
            proxy_url="https://litellm.example.com", master_key=MASTER_KEY, team_id="mle",
            models=["sonnet"], max_budget=100.0, budget_duration="30d",
        ))

    registration = run_pulumi(build).named("team-mle")

    assert registration.typ == "pulumi-python:dynamic:Resource"
    assert is_secret(registration.inputs["master_key"]) and registration.input("master_key") == MASTER_KEY
    assert is_secret(registration.outputs["master_key"])
    assert MASTER_KEY not in json.dumps(plain_strings(registration.inputs))
    assert MASTER_KEY not in json.dumps(plain_strings(registration.outputs))
    assert {key: registration.input(key) for key in ("team_id", "models", "max_budget", "budget_duration")} == {
        "team_id": "mle", "models": ["sonnet"], "max_budget": 100.0, "budget_duration": "30d",
    }
    assert "rpm_limit" not in registration.inputs  # unset limits are not sent at all
