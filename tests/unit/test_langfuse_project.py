"""LangfuseProject: its provider against a loopback fake of Langfuse's project and API key routes
(organization key, Enterprise path), and its registration (every key secret)."""

from __future__ import annotations

import base64
import json
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi.output import Unknown

from components.langfuse_project import (
    KEY_NOTE,
    PROJECT_METADATA,
    LangfuseAdminError,
    LangfuseKeyVerificationError,
    LangfuseProject,
    LangfuseProjectArgs,
    LangfuseProjectProvider,
    redact,
)
from tests.support.fake_langfuse_admin import (
    FakeLangfuseAdmin,
    Organization,
    basic_authorization,
    new_key_pair,
    running_fake_langfuse,
)
from tests.support.litellm_proxy import free_port
from tests.support.pulumi_mocks import is_secret, plain_strings, run_pulumi

RETRY_DELAYS = (0.01, 0.02)
TEAM = "mle"


@dataclass
class Langfuse:
    fake: FakeLangfuseAdmin
    org: Organization
    org_public_key: str
    org_secret_key: str


@pytest.fixture
def langfuse():
    with running_fake_langfuse() as fake:
        org = fake.add_organization()
        _key, public_key, secret_key = fake.add_key(org=org)
        yield Langfuse(fake, org, public_key, secret_key)


@pytest.fixture
def team_keys() -> tuple[str, str]:
    return new_key_pair()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(sleeps) -> LangfuseProjectProvider:
    return LangfuseProjectProvider(retry_delays=RETRY_DELAYS, request_timeout_seconds=2.0, sleep=sleeps.append)


def project_props(langfuse: Langfuse | None, team_keys: tuple[str, str], **overrides) -> dict[str, Any]:
    """Inputs as the engine hands them to the provider: secrets unwrapped."""
    return {
        "langfuse_url": langfuse.fake.url if langfuse else "https://langfuse.example.com",
        "organization_public_key": langfuse.org_public_key if langfuse else "pk-lf-org",
        "organization_secret_key": langfuse.org_secret_key if langfuse else "sk-lf-org",
        "project_name": TEAM,
        "public_key": team_keys[0],
        "secret_key": team_keys[1],
        "__provider": "serialized-provider",
        **overrides,
    }


def stored_outputs(outs: dict[str, Any]) -> dict[str, Any]:
    """Outputs as the engine hands them back later (`olds`): nulls dropped."""
    return {key: value for key, value in outs.items() if value is not None}


def secrets_of(props: dict[str, Any]) -> list[str]:
    values = [props[key] for key in ("organization_public_key", "organization_secret_key", "public_key", "secret_key")]
    credentials = [
        basic_authorization(props["organization_public_key"], props["organization_secret_key"]).split()[1],
        basic_authorization(props["public_key"], props["secret_key"]).split()[1],
    ]
    displays = [value[:6] + "..." + value[-4:] for value in values if value.startswith("sk-lf-")]
    return [*values, *credentials, *displays]


def assert_no_secret(message: str, props: dict[str, Any], *others: str) -> None:
    for secret in (*secrets_of(props), *others):
        assert secret not in message


def project_named(fake: FakeLangfuseAdmin, name: str):
    [project] = fake.live_projects(name)
    return project


def bodies_to(fake: FakeLangfuseAdmin, method: str, suffix: str) -> list[Any]:
    return [r.body for r in fake.requests if r.method == method and r.path.endswith(suffix)]


# -- create ----------------------------------------------------------------------------------------
def test_create_makes_the_project_registers_the_team_pair_and_verifies_it(langfuse, provider, team_keys):
    props = project_props(langfuse, team_keys)

    result = provider.create(props)

    project = project_named(langfuse.fake, TEAM)
    assert result.id == project.id
    assert project.metadata == PROJECT_METADATA
    [key] = langfuse.fake.keys_of(project)
    assert (key.public_key, key.note) == (team_keys[0], KEY_NOTE)
    assert langfuse.fake.authenticates(*team_keys) is project
    assert result.outs == {
        **{k: props[k] for k in ("langfuse_url", "organization_public_key", "organization_secret_key",
                                 "public_key", "secret_key")},
        "project_name": TEAM, "project_id": project.id, "api_key_id": key.id, "key_verified": True,
    }
    p = f"/api/public/projects/{project.id}"
    assert langfuse.fake.routes_called() == [
        ("GET", "/api/public/organizations/projects"), ("POST", "/api/public/projects"),
        ("GET", f"{p}/apiKeys"), ("POST", f"{p}/apiKeys"), ("GET", "/api/public/projects"),
    ]
    # The organization key managed; the team's own pair made the last, verifying call.
    assert [r.public_key for r in langfuse.fake.requests] == [langfuse.org_public_key] * 4 + [team_keys[0]]
    assert bodies_to(langfuse.fake, "POST", "/apiKeys") == [
        {"note": KEY_NOTE, "publicKey": team_keys[0], "secretKey": team_keys[1]},
    ]


def test_create_adopts_an_existing_project_and_registers_the_missing_key(langfuse, provider, team_keys):
    existing = langfuse.fake.add_project(langfuse.org, TEAM)  # made in the UI

    result = provider.create(project_props(langfuse, team_keys))

    assert result.id == existing.id
    assert bodies_to(langfuse.fake, "POST", "/api/public/projects") == []
    assert [key.public_key for key in langfuse.fake.keys_of(existing)] == [team_keys[0]]
    assert len(langfuse.fake.live_projects()) == 1


def test_create_adopts_a_project_that_already_has_the_team_pair(langfuse, provider, team_keys):
    existing = langfuse.fake.add_project(langfuse.org, TEAM)
    key, _, _ = langfuse.fake.add_key(project=existing, public_key=team_keys[0], secret_key=team_keys[1])

    result = provider.create(project_props(langfuse, team_keys))

    assert (result.id, result.outs["api_key_id"]) == (existing.id, key.id)
    assert [method for method, _ in langfuse.fake.routes_called()] == ["GET", "GET", "GET"]  # no writes


def test_create_ignores_projects_of_other_organizations_and_deleted_ones(langfuse, provider, team_keys):
    other = langfuse.fake.add_organization("elsewhere")
    langfuse.fake.add_project(other, TEAM)
    langfuse.fake.add_project(langfuse.org, TEAM, deleted_at="2026-01-01T00:00:00Z")

    result = provider.create(project_props(langfuse, team_keys))

    mine = [p for p in langfuse.fake.live_projects(TEAM) if p.org_id == langfuse.org.id]
    assert [p.id for p in mine] == [result.id]


def test_create_adopts_a_project_that_appears_between_lookup_and_creation(langfuse, provider, team_keys):
    # What a retried POST sees when the first one reached Langfuse but timed out here.
    def created_meanwhile(request):
        if request.method == "POST" and request.path == "/api/public/projects" and not langfuse.fake.live_projects():
            langfuse.fake.add_project(langfuse.org, TEAM)

    langfuse.fake.on_request = created_meanwhile

    result = provider.create(project_props(langfuse, team_keys))

    assert result.id == project_named(langfuse.fake, TEAM).id
    assert langfuse.fake.routes_called()[:3] == [
        ("GET", "/api/public/organizations/projects"), ("POST", "/api/public/projects"),
        ("GET", "/api/public/organizations/projects"),
    ]


def test_create_adopts_a_key_registered_between_lookup_and_registration(langfuse, provider, team_keys):
    def registered_meanwhile(request):
        if request.method == "POST" and request.path.endswith("/apiKeys") and not langfuse.fake.key_with(team_keys[0]):
            project = project_named(langfuse.fake, TEAM)
            langfuse.fake.add_key(project=project, public_key=team_keys[0], secret_key=team_keys[1])

    langfuse.fake.on_request = registered_meanwhile

    result = provider.create(project_props(langfuse, team_keys))

    assert result.outs["api_key_id"] == langfuse.fake.key_with(team_keys[0]).id


def test_a_pair_registered_on_another_project_is_refused_clearly(langfuse, provider, team_keys):
    other = langfuse.fake.add_project(langfuse.org, "credit-risk")
    langfuse.fake.add_key(project=other, public_key=team_keys[0], secret_key=team_keys[1])
    props = project_props(langfuse, team_keys)

    with pytest.raises(LangfuseAdminError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert "HTTP 409" in message and "already registered elsewhere" in message and f"project '{TEAM}'" in message
    assert_no_secret(message, props)


def test_an_existing_key_with_the_team_public_key_but_another_secret_fails_loudly(langfuse, provider, team_keys):
    existing = langfuse.fake.add_project(langfuse.org, TEAM)
    langfuse.fake.add_key(project=existing, public_key=team_keys[0])  # a different, random secret
    props = project_props(langfuse, team_keys)

    with pytest.raises(LangfuseAdminError, match="different secret key") as raised:
        provider.create(props)

    assert_no_secret(str(raised.value), props)
    assert len(langfuse.fake.keys_of(existing)) == 1  # not ours to delete


def test_a_server_that_ignores_predefined_keys_fails_without_leaving_random_keys(langfuse, provider, team_keys):
    langfuse.fake.honours_predefined_keys = False  # an older handler that only reads `note`
    props = project_props(langfuse, team_keys)

    with pytest.raises(LangfuseAdminError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert "ignored the team's predefined key pair" in message and "generated random keys" in message
    assert "Upgrade Langfuse" in message
    assert langfuse.fake.keys_of(project_named(langfuse.fake, TEAM)) == []  # the random key was deleted again
    assert "sk-lf-" not in message
    assert_no_secret(message, props)


def test_keys_that_do_not_authenticate_after_registration_fail_loudly(langfuse, provider, team_keys):
    langfuse.fake.forget_created_keys = True  # 201, but nothing stored
    props = project_props(langfuse, team_keys)

    with pytest.raises(LangfuseKeyVerificationError) as raised:
        provider.create(props)

    message = str(raised.value)
    project = project_named(langfuse.fake, TEAM)
    assert f"Langfuse project '{TEAM}' ({project.id})" in message and "keys do not authenticate" in message
    assert "HTTP 401" in message and "Invalid public key" in message
    assert_no_secret(message, props)


def test_keys_that_authenticate_as_another_project_do_not_verify(langfuse, provider, team_keys):
    other = langfuse.fake.add_project(langfuse.org, "credit-risk")

    def moved_elsewhere(request):  # the key ends up on another project, by whatever mix-up
        if request.path == "/api/public/projects" and request.method == "GET":
            langfuse.fake.key_with(team_keys[0]).project_id = other.id

    langfuse.fake.on_request = moved_elsewhere
    props = project_props(langfuse, team_keys)

    with pytest.raises(LangfuseKeyVerificationError, match=rf"authenticate as project\(s\) \['{other.id}'\]") as raised:
        provider.create(props)

    assert "keys do not authenticate" in str(raised.value)
    assert_no_secret(str(raised.value), props)


@pytest.mark.parametrize("keys, label", [
    (("lf_pk_1234567890", "sk-lf-abcdef"), "public key"),
    (("pk-lf-abcdef", "lf_sk_1234567890"), "secret key"),
])
def test_keys_in_another_format_are_refused_before_any_request(langfuse, provider, keys, label):
    props = project_props(langfuse, keys)

    with pytest.raises(LangfuseAdminError, match=f"the {label} of Langfuse project 'mle' must have the form") as raised:
        provider.create(props)

    assert langfuse.fake.requests == []
    assert keys[0] not in str(raised.value) and keys[1] not in str(raised.value)


def test_a_name_langfuse_would_refuse_is_refused_before_any_request(langfuse, provider, team_keys):
    with pytest.raises(LangfuseAdminError, match="'ml' must have 3 to 60 characters"):
        provider.create(project_props(langfuse, team_keys, project_name="ml"))
    assert langfuse.fake.requests == []


def test_several_projects_with_the_name_are_reported_not_guessed(langfuse, provider, team_keys):
    first, second = (langfuse.fake.add_project(langfuse.org, TEAM) for _ in range(2))  # e.g. after a UI rename

    with pytest.raises(LangfuseAdminError, match=f"2 projects named '{TEAM}' \\({first.id}, {second.id}\\)"):
        provider.create(project_props(langfuse, team_keys))


# -- read ------------------------------------------------------------------------------------------
def test_read_returns_the_live_project(langfuse, provider, team_keys):
    outputs = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)

    result = provider.read(outputs["project_id"], outputs)

    assert (result.id, result.outs) == (outputs["project_id"], outputs)
    assert provider.diff(result.id, stored_outputs(result.outs), project_props(langfuse, team_keys)).changes is False


def test_read_of_a_project_deleted_outside_pulumi_reports_it_gone(langfuse, provider, team_keys):
    outputs = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    langfuse.fake.projects[outputs["project_id"]].deleted_at = "2026-01-01T00:00:00Z"

    assert provider.read(outputs["project_id"], outputs).id is None


def test_read_reports_a_rename_in_the_ui_as_drift_and_update_renames_back(langfuse, provider, team_keys):
    desired = project_props(langfuse, team_keys)
    outputs = stored_outputs(provider.create(desired).outs)
    project = langfuse.fake.projects[outputs["project_id"]]
    project.name = "mle-renamed"

    refreshed = stored_outputs(provider.read(project.id, outputs).outs)
    assert refreshed["project_name"] == "mle-renamed"
    assert provider.diff(project.id, refreshed, desired).changes

    provider.update(project.id, refreshed, desired)

    assert project.name == TEAM
    assert bodies_to(langfuse.fake, "PUT", project.id) == [{"name": TEAM}]


def test_read_reports_a_deleted_key_and_update_registers_it_again(langfuse, provider, team_keys):
    desired = project_props(langfuse, team_keys)
    outputs = stored_outputs(provider.create(desired).outs)
    project_id = outputs["project_id"]
    del langfuse.fake.api_keys[outputs["api_key_id"]]  # deleted in the UI

    refreshed = stored_outputs(provider.read(project_id, outputs).outs)
    assert "api_key_id" not in refreshed and refreshed["key_verified"] is False
    assert provider.diff(project_id, refreshed, desired).changes  # same inputs, yet an update is due

    result = provider.update(project_id, refreshed, desired)

    assert langfuse.fake.authenticates(*team_keys).id == project_id
    assert result.outs["api_key_id"] == langfuse.fake.key_with(team_keys[0]).id
    assert result.outs["key_verified"] is True


def test_read_reports_a_key_that_no_longer_authenticates_and_update_fails_loudly(langfuse, provider, team_keys):
    desired = project_props(langfuse, team_keys)
    outputs = stored_outputs(provider.create(desired).outs)
    # Langfuse's SALT changed, say: the key is listed, its hash no longer matches.
    langfuse.fake.api_keys[outputs["api_key_id"]].fast_hashed_secret_key = "0" * 64

    refreshed = stored_outputs(provider.read(outputs["project_id"], outputs).outs)
    assert refreshed["api_key_id"] == outputs["api_key_id"] and refreshed["key_verified"] is False
    assert provider.diff(outputs["project_id"], refreshed, desired).changes

    with pytest.raises(LangfuseKeyVerificationError, match="keys do not authenticate"):
        provider.update(outputs["project_id"], refreshed, desired)


# -- update ----------------------------------------------------------------------------------------
def test_rename_keeps_the_project_and_its_key(langfuse, provider, team_keys):
    olds = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    news = project_props(langfuse, team_keys, project_name="machine-learning")

    diff = provider.diff(olds["project_id"], olds, news)
    assert (diff.changes, diff.replaces) == (True, [])
    result = provider.update(olds["project_id"], olds, news)

    project = langfuse.fake.projects[olds["project_id"]]
    assert project.name == "machine-learning"
    assert (result.outs["project_name"], result.outs["api_key_id"]) == ("machine-learning", olds["api_key_id"])
    assert len(bodies_to(langfuse.fake, "POST", "/apiKeys")) == 1  # registered once, at creation


def test_rename_onto_another_project_name_is_refused(langfuse, provider, team_keys):
    olds = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    taken = langfuse.fake.add_project(langfuse.org, "credit-risk")

    with pytest.raises(LangfuseAdminError, match=f"project {taken.id} already has that name"):
        provider.update(olds["project_id"], olds, project_props(langfuse, team_keys, project_name="credit-risk"))

    assert langfuse.fake.projects[olds["project_id"]].name == TEAM


def test_rotation_registers_and_verifies_the_new_pair_before_deleting_the_old_key(langfuse, provider, team_keys):
    olds = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    project_id, old_key_id = olds["project_id"], olds["api_key_id"]
    rotated = new_key_pair()
    langfuse.fake.requests.clear()

    result = provider.update(project_id, olds, project_props(langfuse, rotated))

    [key] = langfuse.fake.keys_of(project_id)
    assert key.public_key == rotated[0] and result.outs["api_key_id"] == key.id != old_key_id
    assert langfuse.fake.authenticates(*rotated).id == project_id
    assert langfuse.fake.authenticates(*team_keys) is None
    p = f"/api/public/projects/{project_id}"
    assert langfuse.fake.routes_called() == [
        ("GET", "/api/public/organizations/projects"), ("GET", f"{p}/apiKeys"), ("POST", f"{p}/apiKeys"),
        ("GET", "/api/public/projects"), ("DELETE", f"{p}/apiKeys/{old_key_id}"),
    ]
    assert langfuse.fake.requests[3].public_key == rotated[0]  # verified with the new pair


def test_rotation_whose_new_pair_does_not_verify_keeps_the_old_key(langfuse, provider, team_keys):
    olds = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    langfuse.fake.forget_created_keys = True

    with pytest.raises(LangfuseKeyVerificationError, match="keys do not authenticate"):
        provider.update(olds["project_id"], olds, project_props(langfuse, new_key_pair()))

    assert langfuse.fake.authenticates(*team_keys).id == olds["project_id"]  # still tracing
    assert bodies_to(langfuse.fake, "DELETE", olds["api_key_id"]) == []


def test_a_new_secret_under_the_same_public_key_replaces_our_key(langfuse, provider, team_keys):
    olds = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    new_secret = new_key_pair()[1]

    result = provider.update(olds["project_id"], olds, project_props(langfuse, (team_keys[0], new_secret)))

    assert langfuse.fake.authenticates(team_keys[0], new_secret).id == olds["project_id"]
    assert langfuse.fake.authenticates(*team_keys) is None
    assert result.outs["api_key_id"] == langfuse.fake.key_with(team_keys[0]).id != olds["api_key_id"]


def test_new_organization_keys_only_change_the_stored_connection(langfuse, provider, team_keys):
    olds = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    _key, org_public, org_secret = langfuse.fake.add_key(org=langfuse.org)
    news = project_props(langfuse, team_keys, organization_public_key=org_public, organization_secret_key=org_secret)
    langfuse.fake.requests.clear()

    result = provider.update(olds["project_id"], olds, news)

    assert [method for method, _ in langfuse.fake.routes_called()] == ["GET", "GET", "GET"]
    assert (result.outs["organization_public_key"], result.outs["organization_secret_key"]) == (org_public, org_secret)


def test_update_of_a_project_deleted_outside_pulumi_asks_for_a_refresh(langfuse, provider, team_keys):
    olds = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    langfuse.fake.projects[olds["project_id"]].deleted_at = "2026-01-01T00:00:00Z"

    with pytest.raises(LangfuseAdminError, match="no longer exists .* run `pulumi refresh`"):
        provider.update(olds["project_id"], olds, project_props(langfuse, team_keys, project_name="ml-team"))


@pytest.mark.parametrize("change", [
    {"project_name": "credit-risk"},
    {"public_key": "pk-lf-rotated"},
    {"secret_key": "sk-lf-rotated"},
    {"langfuse_url": "https://langfuse.other.example.com"},
    {"organization_secret_key": Unknown()},  # preview while the key secret changes
])
def test_diff_never_replaces(change, team_keys):
    base = project_props(None, team_keys)
    olds = {**{k: v for k, v in base.items() if k != "__provider"}, "project_id": "p1", "api_key_id": "k1",
            "key_verified": True}

    result = LangfuseProjectProvider().diff("p1", olds, {**base, **change})

    assert (result.changes, result.replaces) == (True, [])


def test_diff_of_unchanged_inputs_is_no_change(team_keys):
    base = project_props(None, team_keys)
    olds = {**{k: v for k, v in base.items() if k != "__provider"}, "project_id": "p1", "api_key_id": "k1",
            "key_verified": True}
    assert LangfuseProjectProvider().diff("p1", olds, base).changes is False


# -- delete ----------------------------------------------------------------------------------------
def test_delete_removes_our_key_and_the_project_and_a_second_delete_is_fine(langfuse, provider, team_keys):
    outputs = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    project_id = outputs["project_id"]

    provider.delete(project_id, outputs)
    provider.delete(project_id, outputs)  # already gone, e.g. deleted in the UI

    assert langfuse.fake.projects[project_id].deleted_at is not None
    assert langfuse.fake.keys_of(project_id) == [] and langfuse.fake.authenticates(*team_keys) is None
    assert [(m, path) for m, path in langfuse.fake.routes_called() if m == "DELETE"] == [
        ("DELETE", f"/api/public/projects/{project_id}/apiKeys/{outputs['api_key_id']}"),
        ("DELETE", f"/api/public/projects/{project_id}"),
    ] * 2


def test_delete_without_a_recorded_key_deletes_the_project(langfuse, provider, team_keys):
    outputs = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    outputs.pop("api_key_id")

    provider.delete(outputs["project_id"], outputs)

    assert langfuse.fake.live_projects() == []


# -- connection and errors -------------------------------------------------------------------------
def test_an_unreachable_langfuse_is_retried_then_named(provider, sleeps, team_keys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    props = project_props(None, team_keys, langfuse_url=url)

    with pytest.raises(LangfuseAdminError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert f"cannot reach Langfuse at {url}" in message
    assert "3 attempts" in message and "allowedCidrs" in message
    assert_no_secret(message, props)
    assert sleeps == list(RETRY_DELAYS)


def test_a_langfuse_that_never_answers_times_out(sleeps, team_keys):
    with socket.socket() as silent:  # accepts connections (backlog) but never responds
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        provider = LangfuseProjectProvider(retry_delays=(0.0,), request_timeout_seconds=0.1, sleep=sleeps.append)

        with pytest.raises(LangfuseAdminError, match=f"cannot reach Langfuse at {url} .*timed out"):
            provider.read("p1", project_props(None, team_keys, langfuse_url=url))


def test_a_load_balancer_503_while_langfuse_starts_is_retried(langfuse, provider, sleeps, team_keys):
    langfuse.fake.unavailable_responses = 2

    provider.create(project_props(langfuse, team_keys))

    assert project_named(langfuse.fake, TEAM)
    assert sleeps == list(RETRY_DELAYS)


def test_a_redirect_is_reported_not_followed(langfuse, provider, team_keys):
    langfuse.fake.redirect_to = "https://langfuse.example.com"
    props = project_props(langfuse, team_keys)

    with pytest.raises(LangfuseAdminError, match="redirected GET .* to https://langfuse.example.com/api/public/"):
        provider.create(props)

    assert len(langfuse.fake.requests) == 1


def test_a_wrong_organization_key_is_refused_clearly_without_secrets(langfuse, provider, team_keys):
    wrong_public, wrong_secret = new_key_pair()
    props = project_props(langfuse, team_keys, organization_public_key=wrong_public,
                          organization_secret_key=wrong_secret)

    with pytest.raises(LangfuseAdminError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert f"Langfuse at {langfuse.fake.url} refused the organization API key" in message and "HTTP 401" in message
    assert "organization-scoped key" in message
    assert_no_secret(message, props, langfuse.org_secret_key)
    assert langfuse.fake.live_projects() == []


def test_an_organization_without_the_enterprise_license_gets_a_clear_403(langfuse, provider, team_keys):
    langfuse.org.plan = "oss"
    props = project_props(langfuse, team_keys)

    with pytest.raises(LangfuseAdminError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert "HTTP 403" in message and "not available on your current plan" in message
    assert "no Enterprise license" in message and "LANGFUSE_EE_LICENSE_KEY" in message
    assert_no_secret(message, props)


def test_a_project_key_in_place_of_the_organization_key_gets_a_clear_403(langfuse, provider, team_keys):
    project = langfuse.fake.add_project(langfuse.org, "platform")
    _key, project_public, project_secret = langfuse.fake.add_key(project=project)
    props = project_props(langfuse, team_keys, organization_public_key=project_public,
                          organization_secret_key=project_secret)

    with pytest.raises(LangfuseAdminError, match="is not an organization-scoped key") as raised:
        provider.create(props)

    assert_no_secret(str(raised.value), props)


def test_other_http_errors_carry_status_and_redacted_body(langfuse, provider, team_keys):
    props = project_props(langfuse, team_keys)
    # A body that echoes what it was sent, as error pages sometimes do.
    echo = f"failed for {langfuse.org_public_key}:{langfuse.org_secret_key} and {team_keys[1]}"
    langfuse.fake.scripted_responses.append((500, {"message": echo}))

    with pytest.raises(LangfuseAdminError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert f"Langfuse GET {langfuse.fake.url}/api/public/organizations/projects failed with HTTP 500" in message
    assert '"failed for ***:*** and ***"' in message
    assert_no_secret(message, props)


def test_a_route_this_langfuse_lacks_is_an_error_not_already_gone(langfuse, provider, team_keys):
    outputs = stored_outputs(provider.create(project_props(langfuse, team_keys)).outs)
    langfuse.fake.scripted_responses.append((404, "<html>404: This page could not be found.</html>"))

    with pytest.raises(LangfuseAdminError, match="failed with HTTP 404"):
        provider.delete(outputs["project_id"], outputs)


def test_error_bodies_lose_every_secret_and_its_display_form():
    secret = "sk-lf-0f6e3f43-1d2b-4c55-9a3e-5d2c7a1b9e80"
    other = "sk-lf-11111111-2222-3333-4444-555555555555"
    body = f'{{"key": "{secret}", "shown": "{secret[:6]}...{secret[-4:]}", "pk": "pk-lf-abc", "x": "{other}"}}'

    assert redact(body, [secret, "pk-lf-abc"]) == '{"key": "***", "shown": "***", "pk": "***", "x": "sk-lf-***"}'


# -- registration ----------------------------------------------------------------------------------
def test_registers_as_a_dynamic_resource_with_every_key_secret(team_keys):
    org_public, org_secret = new_key_pair()
    secret_values = [org_public, org_secret, *team_keys]

    def build():
        LangfuseProject("langfuse-project-mle", LangfuseProjectArgs(
            langfuse_url="https://langfuse.example.com", organization_public_key=org_public,
            organization_secret_key=org_secret, project_name=TEAM, public_key=team_keys[0], secret_key=team_keys[1],
        ))

    registration = run_pulumi(build).named("langfuse-project-mle")

    assert registration.typ == "pulumi-python:dynamic:Resource"
    for key, value in zip(("organization_public_key", "organization_secret_key", "public_key", "secret_key"),
                          secret_values, strict=True):
        assert is_secret(registration.inputs[key]) and registration.input(key) == value
        assert is_secret(registration.outputs[key])
    for value in secret_values:
        assert value not in json.dumps(plain_strings(registration.inputs))
        assert value not in json.dumps(plain_strings(registration.outputs))
    assert (registration.input("project_name"), registration.input("langfuse_url")) == (
        TEAM, "https://langfuse.example.com",
    )
    assert "project_id" not in registration.inputs  # computed by the provider


def test_a_name_langfuse_would_refuse_fails_at_registration(team_keys):
    with pytest.raises(ValueError, match="'ml' must have 3 to 60 characters"):
        LangfuseProject("langfuse-project-ml", LangfuseProjectArgs(
            langfuse_url="https://langfuse.example.com", organization_public_key="pk-lf-o",
            organization_secret_key="sk-lf-o", project_name="ml", public_key=team_keys[0], secret_key=team_keys[1],
        ))


def test_basic_credentials_are_what_langfuse_decodes(team_keys):
    header = basic_authorization(*team_keys)
    assert base64.b64decode(header.split()[1]).decode() == f"{team_keys[0]}:{team_keys[1]}"
