"""The keys the team plane registers, as the pinned LiteLLM proxy takes them: a team key
(team_plane/litellm_keys.py `registration`, its value in the format components/litellm_team_key.py
generates) and a smoke key (team_plane/smoke.py `smoke_key`).

/key/generate needs LiteLLM's database, which cannot start here, so the proof runs the proxy's own
pieces in a fresh interpreter, up to the database: the config the container's start writes loaded
(`ProxyConfig.load_config`, which resolves the stack's key policy, team_plane/litellm_guard.py),
the policy the endpoint enforces (`_enforce_custom_key_policy` with `_effective_key_for_generate`),
then the endpoint's own checks (`_common_key_generation_helper`: access, budget duration, logging
metadata, alias format and uniqueness, the custom key's `sk-` prefix and MINIMUM_CUSTOM_KEY_LENGTH)
until it writes the row, where the missing database stops it. A value LiteLLM refuses is
refused there, before the database (the control)."""

from __future__ import annotations

import secrets

import pytest

from tests.support.litellm_proxy import proxy_pieces

from components.litellm_team_key import VALUE_BYTES, VALUE_PREFIX
from team_plane.litellm_keys import TeamKey, registration
from team_plane.smoke import smoke_key

# One worker takes the module (make test: --dist loadgroup): LiteLLM's pieces load once (the `answers` fixture).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("litellm-key-values")]

PROXY_SIDE = """
import asyncio, json, sys
from datetime import datetime, timezone
from fastapi import HTTPException
from litellm.proxy import proxy_server
from litellm.proxy._types import GenerateKeyRequest, LitellmUserRoles, UserAPIKeyAuth
from litellm.proxy.management_endpoints.key_management_endpoints import (
    _common_key_generation_helper, _effective_key_for_generate, _enforce_custom_key_policy,
)
from litellm.types.proxy.management_endpoints.key_management_endpoints import CustomKeyPolicyRequest

MASTER = UserAPIKeyAuth(user_role=LitellmUserRoles.PROXY_ADMIN, api_key="sk-master-key-of-the-test")

async def generate(body):
    data = GenerateKeyRequest(**body)
    now = datetime.now(timezone.utc)
    try:
        await _enforce_custom_key_policy(hook=proxy_server.user_custom_key_policy, build_policy_request=lambda: (
            CustomKeyPolicyRequest(operation="generate", existing_key=None,
                                   effective_key=_effective_key_for_generate(data=data, now=now), request=data)))
        await _common_key_generation_helper(data=data, user_api_key_dict=MASTER, litellm_changed_by=None,
                                            team_table=None)
    except HTTPException as refused:
        return [refused.status_code, str(refused.detail)]
    except Exception as stopped:
        return [None, str(stopped)]
    return [200, None]

async def main():
    await proxy_server.proxy_config.load_config(router=None, config_file_path=sys.argv[1])
    print(json.dumps({name: await generate(body) for name, body in json.loads(sys.argv[2]).items()}))

asyncio.run(main())
"""
NO_DATABASE = "Connect Proxy to database to generate keys"  # what stops it at the write


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    value = VALUE_PREFIX + secrets.token_hex(VALUE_BYTES)
    key = TeamKey("ci", value, 25.0, ("sonnet",), "arn")
    bodies = {
        "team key": registration("credit-risk", key),
        "smoke key": smoke_key("credit-risk", secrets.token_hex(16), "sonnet", VALUE_PREFIX + secrets.token_hex(24)),
        "control: too short": registration("credit-risk", TeamKey("ci", "sk-0123456789", None, (), "arn")),
        "control: no sk-": registration("credit-risk", TeamKey("ci", "ak-" + value[3:], None, (), "arn")),
    }
    return proxy_pieces(tmp_path_factory.mktemp("key-values"), PROXY_SIDE, bodies)


@pytest.mark.parametrize("case", ["team key", "smoke key"])
def test_the_proxy_takes_the_key_up_to_its_database(answers, case):
    status, said = answers[case]
    assert status is None and NO_DATABASE in said, answers[case]


@pytest.mark.parametrize("case, refusal", [
    ("control: too short", "at least 16 characters"), ("control: no sk-", "must start with 'sk-'"),
])
def test_a_value_litellm_refuses_is_refused_before_the_database(answers, case, refusal):
    status, said = answers[case]
    assert status == 400 and refusal in said
