"""One LiteLLM virtual key of a team, generated and kept in its own secret; the team plane registers
it in LiteLLM (team_plane/litellm_keys.py), and the team's services read it with IAM.

The value is `sk-` and 48 hex digits, the master key's format: LiteLLM takes a caller-given key that
starts with `sk-` and has at least 16 characters (litellm 1.104.0 key_management_endpoints.py
`_common_key_generation_helper`, MINIMUM_CUSTOM_KEY_LENGTH). The secret holds `{"apiKey": ...}`.
Replacing the random value (`pulumi up --replace` of its RandomId) rotates the key: the secret gets a
new version, the team document names it, and the team plane registers the new value and then
deletes the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.base import GatewayComponent
from components.secret_json import keep_in_secret
from team_plane.litellm_keys import VALUE_FIELD

VALUE_PREFIX, VALUE_BYTES = "sk-", 24  # 48 hex digits


@dataclass(frozen=True)
class LitellmTeamKeyArgs:
    secret_name: str  # <prefix>/litellm-keys/teams/<team>/<key>
    team: str
    key: str
    kms_key_arn: pulumi.Input[str] | None  # None: no Secrets Manager (compute: local), the value stays a Pulumi secret
    # A team's key can leave the config: removing it keeps the secret (and the random value, so a key
    # that comes back is the same) instead of stopping on protection, as the team's Langfuse pair does.
    retain_on_removal: bool


class LitellmTeamKey(GatewayComponent):
    def __init__(self, name: str, args: LitellmTeamKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        value = random.RandomId(
            f"{name}-value", byte_length=VALUE_BYTES,
            opts=self.child(retain_on_delete=args.retain_on_removal or None, additional_secret_outputs=["hex", "b64_std",
                                                                                                          "b64_url", "dec"]),
        )
        self.value = pulumi.Output.secret(pulumi.Output.concat(VALUE_PREFIX, value.hex))
        keep_in_secret(
            self, f"{name}-secret",
            secret_name=args.secret_name,
            description=f"LiteLLM virtual key {args.key} of team {args.team}",
            values={VALUE_FIELD: self.value},
            kms_key_arn=args.kms_key_arn,
            protect=False,
            retain_on_removal=args.retain_on_removal,
        )
