"""The guard LiteLLM loads beside its config (team_plane/litellm_guard.py). Its effect on requests,
refused ones traced nowhere, is proven with the running proxy in test_team_tracing.py; here: it
refuses to load against a LiteLLM whose patched method changed, and no key carries its own tracing.

The pinned LiteLLM proxy, loading the config the container's start writes, refuses a key whose
metadata holds `logging` (`key_policy`).

A key's `metadata.logging` would win over its team's routing (litellm_pre_call_utils.py
`_get_dynamic_logging_metadata`). Keys need LiteLLM's database, which cannot start here, so the
proof runs the proxy's own pieces in a fresh interpreter: `ProxyConfig.load_config` on the written
config (which resolves `general_settings.custom_key_policy` from the file beside it), then
`_enforce_custom_key_policy` with the requests /key/generate and /key/update build from the pinned
helpers (`_effective_key_for_generate`, `_update_policy_request`): what the endpoints answer.
"""

from __future__ import annotations

import threading

import pytest

from tests.support.litellm_proxy import proxy_pieces

# One worker takes the module (make test: --dist loadgroup): the proxy's config loads once (the `answers` fixture).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("litellm-guard")]

LOGGING = [{"callback_name": "langfuse", "callback_type": "success",
            "callback_vars": {"langfuse_host": "https://elsewhere.example", "langfuse_public_key": "pk-lf-x",
                              "langfuse_secret_key": "sk-lf-x"}}]

# Run by the test in its own interpreter: prints {case: [status, message]} (status 200: allowed).
PROXY_SIDE = """
import asyncio, json, sys
from datetime import datetime, timezone
from fastapi import HTTPException
from litellm.proxy import proxy_server
from litellm.proxy._types import GenerateKeyRequest, LiteLLM_VerificationToken, UpdateKeyRequest
from litellm.proxy.management_endpoints.key_management_endpoints import (
    _effective_key_for_generate, _enforce_custom_key_policy, _update_policy_request,
)
from litellm.types.proxy.management_endpoints.key_management_endpoints import CustomKeyPolicyRequest

LOGGING = json.loads(sys.argv[2])

def generate(metadata):
    data = GenerateKeyRequest(team_id="home-rentals", metadata=metadata)
    now = datetime.now(timezone.utc)
    return lambda: CustomKeyPolicyRequest(operation="generate", existing_key=None,
                                          effective_key=_effective_key_for_generate(data=data, now=now), request=data)

def update(existing_metadata, changes):
    existing = LiteLLM_VerificationToken(token="hashed", team_id="home-rentals", metadata=existing_metadata)
    request = UpdateKeyRequest(key="sk-key", **changes)
    return lambda: _update_policy_request(operation="update", existing_key_row=existing,
                                          non_default_values=request.model_dump(exclude_unset=True, exclude={"key"}),
                                          request=request)

CASES = {
    "generate, team only": generate({"owner": "ml"}),
    "generate, own logging": generate({"logging": LOGGING}),
    "update, adds logging": update({}, {"metadata": {"logging": LOGGING}}),
    "update, budget of a key that has logging": update({"logging": LOGGING}, {"max_budget": 5.0}),
    "update, budget": update({"owner": "ml"}, {"max_budget": 5.0}),
}

async def main():
    await proxy_server.proxy_config.load_config(router=None, config_file_path=sys.argv[1])
    answers = {}
    for name, build in CASES.items():
        try:
            await _enforce_custom_key_policy(hook=proxy_server.user_custom_key_policy, build_policy_request=build)
            answers[name] = [200, None]
        except HTTPException as refused:
            answers[name] = [refused.status_code, refused.detail]
    print(json.dumps(answers))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    return proxy_pieces(tmp_path_factory.mktemp("key-policy"), PROXY_SIDE, LOGGING)


def test_litellm_imported_by_the_tests_reads_its_bundled_price_map():
    """As the container does; a failed fetch of the remote map would retry in a thread racing the import."""
    from litellm.litellm_core_utils.get_model_cost_map import _cost_map_source_info

    import team_plane.litellm_guard  # noqa: F401 (imports LiteLLM)

    assert (_cost_map_source_info.source, _cost_map_source_info.is_env_forced) == ("local", True)
    assert not [thread for thread in threading.enumerate() if thread.name == "litellm-model-cost-map-retry"]


def test_the_guard_refuses_a_method_it_was_not_written_for():
    from team_plane.litellm_guard import PATCHED_MARK, skip_logging_of_authentication_failures

    class Upgraded:
        def _is_proxy_only_llm_api_error(self, original_exception, error_type=None, route=None, request=None):
            return True

    with pytest.raises(RuntimeError, match=r"is not the function this guard was written for"):
        skip_logging_of_authentication_failures(Upgraded)

    class Pinned:
        def _is_proxy_only_llm_api_error(self, original_exception, error_type=None, route=None):
            return True

    skip_logging_of_authentication_failures(Pinned)
    patched = Pinned._is_proxy_only_llm_api_error
    skip_logging_of_authentication_failures(Pinned)  # LiteLLM runs the module again on each import
    assert Pinned._is_proxy_only_llm_api_error is patched and getattr(patched, PATCHED_MARK)
    from litellm.proxy._types import ProxyErrorTypes

    assert Pinned()._is_proxy_only_llm_api_error(ValueError(), error_type=ProxyErrorTypes.auth_error) is False
    assert Pinned()._is_proxy_only_llm_api_error(ValueError(), error_type=None) is True


def test_the_pass_through_patch_refuses_a_function_it_was_not_written_for():
    from types import SimpleNamespace

    from team_plane.litellm_guard import refuse_platform_keys_to_pass_through

    def upgraded(*, dynamic_host_supplied, dynamic_langfuse_public_key, dynamic_langfuse_secret_key, request=None):
        return dynamic_langfuse_public_key, dynamic_langfuse_secret_key

    with pytest.raises(RuntimeError, match=r"is not the function this guard was written for"):
        refuse_platform_keys_to_pass_through(SimpleNamespace(_get_langfuse_proxy_credentials=upgraded))


REFUSAL = [403, ("llm-gateway: a key's metadata.logging is refused: every call is traced in its team's Langfuse "
                 "project, which the gateway's config sets")]


@pytest.mark.parametrize("case", ["generate, own logging", "update, adds logging", "update, budget of a key that has logging"])
def test_a_key_with_its_own_tracing_is_refused(answers, case):
    assert answers[case] == REFUSAL


@pytest.mark.parametrize("case", ["generate, team only", "update, budget"])
def test_other_keys_pass(answers, case):
    assert answers[case] == [200, None]
