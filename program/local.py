"""The local platform (compute: local): the whole gateway as containers of the deploying machine's
Docker, with no AWS account. Its foundation is what the AWS one generates, kept as Pulumi secrets (no
KMS key, no Secrets Manager), plus what AWS's managed stores would hold (components/local_secrets.py);
its team plane is the same document and the same code, in the S3-compatible store; its platform renders
the same service specs (services/local.py lists every difference) and answers the same `Platform`
interface as ECS and the EC2 host (program/platform.py).

Only this module and what it imports need pulumi-docker, and __main__.py imports it for `compute:
local` alone: the AWS stacks never load the Docker provider (it pings a daemon: pulumi/pulumi-docker#1106).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import pulumi

from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.litellm_team_key import LitellmTeamKey
from components.local_platform import LocalPlatform, LocalPlatformArgs
from components.local_secrets import LocalSecrets, LocalSecretsArgs
from components.platform_secrets import PlatformSecrets, PlatformSecretsArgs
from config.settings import Settings
from program.platform import Platform
from program.team_keys import declare_team_keys
from reference.images import pinned_images
from renderers.compose_host.layout import Mount
from renderers.litellm_proxy import LITELLM_LICENSE_KEY, ProxyConfig, render_proxy_config
from renderers.team_document import DOCUMENT_KEY, KeySecret, render_team_document, team_document
from services import secret_refs
from services.langfuse_access import external_secret_values
from services.local import (
    AWS_CONFIG_DIR, EVERY_KEY, LANGFUSE_PAIRS, POSTGRES, TEAM_KEY_VALUES, TEAM_PLANE_STORE, document_file, key_id,
    key_version, local_endpoints, local_specs, published,
)
from services.specs import SMOKE_JOB, TEAM_PLANE_JOB, Endpoints
from team_plane.key_source import environment_keys
from team_plane.litellm_keys import VALUE_FIELD


@dataclass(frozen=True)
class LocalFoundation:
    settings: Settings
    proxy: ProxyConfig
    endpoints: Endpoints
    secrets: PlatformSecrets  # the apps' generated secrets, as on AWS
    own: LocalSecrets  # what RDS and S3 would hold
    platform_keys: LangfuseKeyPair

    def secret_values(self) -> dict[str, dict[str, pulumi.Input[str]]]:
        """Logical secret -> key -> value: every secret a container of the platform references."""
        platform = {"publicKey": self.platform_keys.public_key, "secretKey": self.platform_keys.secret_key}
        return {**self.secrets.values, **self.own.values, secret_refs.PLATFORM_KEYS: platform}


def build_local_foundation(settings: Settings) -> LocalFoundation:
    prefix = settings.name_prefix
    secrets = PlatformSecrets("secrets", PlatformSecretsArgs(
        prefix, None, POSTGRES, settings.protect, settings.clickhouse,
        external_secret_values(settings.langfuse_sso, settings.langfuse_ee_license_key),
        {LITELLM_LICENSE_KEY: settings.litellm_license_key} if settings.litellm_license_key else {},
    ))
    platform_keys = LangfuseKeyPair("langfuse-keys-platform", LangfuseKeyPairArgs(
        key_id(prefix, secret_refs.PLATFORM_KEYS), "platform", None, settings.protect,
    ))
    return LocalFoundation(
        settings=settings, proxy=render_proxy_config(settings), endpoints=local_endpoints(settings.local, DOCUMENT_KEY),
        secrets=secrets, own=LocalSecrets("local-secrets", LocalSecretsArgs(settings.protect)),
        platform_keys=platform_keys,
    )


@dataclass(frozen=True)
class LocalTeamPlane:
    keys: dict[str, LangfuseKeyPair]  # team -> its Langfuse key pair (a Pulumi secret)
    litellm_keys: dict[tuple[str, str], LitellmTeamKey]  # (team, key name) -> its LiteLLM virtual key (a Pulumi secret)
    document: pulumi.Output[str]  # the team document, as the AWS platforms store it
    document_sha256: pulumi.Output[str]  # what reruns the jobs and restarts LiteLLM
    key_values: dict[str, pulumi.Output[str]]  # LLM_GATEWAY_KEYS (secret): LANGFUSE_PAIRS and EVERY_KEY

    @property
    def litellm_key_exports(self) -> pulumi.Output[dict[str, dict[str, str]]]:
        """Team -> key name -> its value (a secret output: no secret store holds it here)."""
        keys = sorted(self.litellm_keys)
        return pulumi.Output.secret(pulumi.Output.all(*(self.litellm_keys[k].value for k in keys)).apply(
            lambda values: {team: {name: value for (t, name), value in zip(keys, values, strict=True) if t == team}
                            for team in sorted({team for team, _ in keys})}))


def _pair(keys: LangfuseKeyPair) -> pulumi.Output[dict[str, str]]:
    return pulumi.Output.all(keys.public_key, keys.secret_key).apply(lambda v: {"publicKey": v[0], "secretKey": v[1]})


def declare_local_team_plane(foundation: LocalFoundation) -> LocalTeamPlane:
    """Each team's Langfuse pair and LiteLLM keys, the document naming each by its id and version, and
    their values."""
    settings = foundation.settings
    prefix = settings.name_prefix
    keys, litellm_keys = declare_team_keys(settings, None)
    pair_ids = {name: key_id(prefix, secret_refs.team_keys(name)) for name in keys}
    key_ids = {pair: key_id(prefix, secret_refs.team_litellm_key(*pair)) for pair in litellm_keys}
    platform_id = key_id(prefix, secret_refs.PLATFORM_KEYS)
    secrets = {pair_ids[name]: _pair(pair) for name, pair in keys.items()}
    secrets |= {key_ids[pair]: key.value.apply(lambda value: {VALUE_FIELD: value}) for pair, key in litellm_keys.items()}
    secrets[platform_id] = _pair(foundation.platform_keys)
    ids = sorted(secrets)
    values = pulumi.Output.all(*(secrets[i] for i in ids)).apply(lambda resolved: dict(zip(ids, resolved, strict=True)))
    # A digest of each value, not the value: the document is not a secret (its diff shows the teams).
    versions = pulumi.Output.unsecret(values.apply(lambda v: {i: key_version(value) for i, value in v.items()}))
    document = versions.apply(lambda version: render_team_document(team_document(
        settings,
        {name: KeySecret(identifier, version[identifier]) for name, identifier in pair_ids.items()},
        KeySecret(platform_id, version[platform_id]),
        {pair: KeySecret(identifier, version[identifier]) for pair, identifier in key_ids.items()},
    )))
    pair_ids_all = {*pair_ids.values(), platform_id}

    def variable(wanted) -> pulumi.Output[str]:
        return pulumi.Output.secret(pulumi.Output.all(values, versions).apply(
            lambda v: environment_keys({i: (v[1][i], value) for i, value in v[0].items() if wanted(i)})))

    key_values = {LANGFUSE_PAIRS: variable(lambda i: i in pair_ids_all), EVERY_KEY: variable(lambda i: True)}
    return LocalTeamPlane(keys=keys, litellm_keys=litellm_keys, document=document,
                          document_sha256=document.apply(lambda text: hashlib.sha256(text.encode()).hexdigest()),
                          key_values=key_values)


def build_local(foundation: LocalFoundation, team_plane: LocalTeamPlane) -> Platform:
    settings, local = foundation.settings, foundation.settings.local
    specs = local_specs(settings, foundation.proxy, foundation.endpoints)
    binds = {"litellm": (Mount(os.path.expanduser(local.aws_config_dir), AWS_CONFIG_DIR, read_only=True),)} if local.aws_profile else {}
    platform = LocalPlatform("local", LocalPlatformArgs(
        prefix=settings.name_prefix, specs=specs,
        secrets={**foundation.secret_values(), TEAM_KEY_VALUES: team_plane.key_values},
        published=published(local), protect=settings.protect, binds=binds,
        # LiteLLM reads the teams when it starts: a new document replaces it (a label replaces a container).
        labels={"litellm": {"llm-gateway.team-document-sha256": team_plane.document_sha256}},
        files={TEAM_PLANE_STORE: {document_file(): team_plane.document}},
        # The team plane and its smoke call again with each document (on AWS the smoke runs every deploy: here
        # its stand-in call would spend a team's budget at each `up`).
        job_triggers={TEAM_PLANE_JOB: team_plane.document_sha256, SMOKE_JOB: team_plane.document_sha256},
    ))
    return Platform(
        images=pinned_images(spec.image for spec in specs), hosts=(), cache_nodes=(), litellm_log_group=None, ecs=False,
        exports={"dockerNetwork": platform.network.name},
    )


def local_exports(foundation: LocalFoundation, team_plane: LocalTeamPlane, platform: Platform) -> dict[str, object]:
    """Where the gateway answers, and the generated sign-ins as secret outputs (nothing else keeps them
    here: no Secrets Manager), with how to read them."""
    settings, local = foundation.settings, foundation.settings.local
    litellm = foundation.secrets.values[secret_refs.LITELLM]
    stack = settings.stack
    return {
        "environment": settings.environment,
        "litellmUrl": f"http://127.0.0.1:{local.litellm_port}",
        "langfuseUrl": foundation.endpoints.langfuse_public_url,
        "resolvedImages": platform.images,
        **platform.exports,
        "teamPlaneDocument": team_plane.document,
        "teamLitellmKeys": team_plane.litellm_key_exports,
        "masterKey": pulumi.Output.secret(litellm["masterKey"]),
        "litellmUiUsername": litellm["uiUsername"],
        "litellmUiPassword": pulumi.Output.secret(litellm["uiPassword"]),
        "langfuseAdminEmail": settings.langfuse.admin_email,
        "langfuseAdminPassword": pulumi.Output.secret(foundation.secrets.values[secret_refs.LANGFUSE]["adminPassword"]),
        "readSecrets": f"pulumi stack output --stack {stack} --show-secrets masterKey "
                       f"(and teamLitellmKeys, litellmUiPassword, langfuseAdminPassword)",
    }
