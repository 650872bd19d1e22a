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
from components.local_platform import LocalPlatform, LocalPlatformArgs
from components.local_secrets import LocalSecrets, LocalSecretsArgs
from components.platform_secrets import PlatformSecrets, PlatformSecretsArgs
from config.settings import Settings
from program.platform import Platform
from reference.images import pinned_images
from renderers.compose_host.layout import Mount
from renderers.litellm_proxy import ProxyConfig, render_proxy_config
from renderers.team_document import DOCUMENT_KEY, KeySecret, render_team_document, team_document
from services import secret_refs
from services.langfuse_access import external_secret_values
from services.local import (
    AWS_CONFIG_DIR, POSTGRES, TEAM_KEY_VALUES, TEAM_PLANE_STORE, document_file, key_id, key_version, local_endpoints,
    local_specs, published,
)
from services.jobs import TEAM_PLANE_JOB
from services.specs import Endpoints
from team_plane.key_source import environment_keys


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
    document: pulumi.Output[str]  # the team document, as the AWS platforms store it
    document_sha256: pulumi.Output[str]  # what reruns the job and restarts LiteLLM
    key_values: pulumi.Output[str]  # LLM_GATEWAY_KEYS: every pair the team plane reads (secret)


def _pair(keys: LangfuseKeyPair) -> pulumi.Output[dict[str, str]]:
    return pulumi.Output.all(keys.public_key, keys.secret_key).apply(lambda v: {"publicKey": v[0], "secretKey": v[1]})


def declare_local_team_plane(foundation: LocalFoundation) -> LocalTeamPlane:
    """Each team's pair, the document naming each pair by its id and version, and the pairs' values."""
    settings = foundation.settings
    prefix = settings.name_prefix
    keys = {
        team.name: LangfuseKeyPair(f"langfuse-keys-team-{team.name}", LangfuseKeyPairArgs(
            key_id(prefix, secret_refs.team_keys(team.name)), team.name, None, settings.protect, team.existing_keys,
        ))
        for team in settings.teams
    }
    pairs = {key_id(prefix, secret_refs.team_keys(name)): _pair(pair) for name, pair in keys.items()}
    platform_id = key_id(prefix, secret_refs.PLATFORM_KEYS)
    pairs[platform_id] = _pair(foundation.platform_keys)
    ids = sorted(pairs)
    values = pulumi.Output.all(*(pairs[i] for i in ids)).apply(lambda resolved: dict(zip(ids, resolved, strict=True)))
    # A digest of each pair, not the pair: the document is not a secret (its diff shows the teams).
    versions = pulumi.Output.unsecret(values.apply(lambda v: {i: key_version(pair) for i, pair in v.items()}))
    document = versions.apply(lambda version: render_team_document(team_document(
        settings,
        {name: KeySecret(key_id(prefix, secret_refs.team_keys(name)), version[key_id(prefix, secret_refs.team_keys(name))])
         for name in keys},
        KeySecret(platform_id, version[platform_id]),
    )))
    key_values = pulumi.Output.secret(pulumi.Output.all(values, versions).apply(
        lambda v: environment_keys({i: (v[1][i], pair) for i, pair in v[0].items()})))
    return LocalTeamPlane(keys=keys, document=document,
                          document_sha256=document.apply(lambda text: hashlib.sha256(text.encode()).hexdigest()),
                          key_values=key_values)


def build_local(foundation: LocalFoundation, team_plane: LocalTeamPlane) -> Platform:
    settings, local = foundation.settings, foundation.settings.local
    specs = local_specs(settings, foundation.proxy, foundation.endpoints)
    binds = {"litellm": (Mount(os.path.expanduser(local.aws_config_dir), AWS_CONFIG_DIR, read_only=True),)} if local.aws_profile else {}
    platform = LocalPlatform("local", LocalPlatformArgs(
        prefix=settings.name_prefix, specs=specs,
        secrets={**foundation.secret_values(), TEAM_KEY_VALUES: {"environment": team_plane.key_values}},
        published=published(local), protect=settings.protect, binds=binds,
        # LiteLLM reads the teams when it starts: a new document replaces it (a label replaces a container).
        labels={"litellm": {"llm-gateway.team-document-sha256": team_plane.document_sha256}},
        files={TEAM_PLANE_STORE: {document_file(): team_plane.document}},
        job_triggers={TEAM_PLANE_JOB: team_plane.document_sha256},
    ))
    return Platform(
        images=pinned_images(spec.image for spec in specs),
        litellm_ready=[platform.containers["litellm"]], langfuse_ready=[platform.containers["langfuse-web"]],
        hosts=(), cache_nodes=(), litellm_log_group=None, ecs=False,
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
        "masterKey": pulumi.Output.secret(litellm["masterKey"]),
        "litellmUiUsername": litellm["uiUsername"],
        "litellmUiPassword": pulumi.Output.secret(litellm["uiPassword"]),
        "langfuseAdminEmail": settings.langfuse.admin_email,
        "langfuseAdminPassword": pulumi.Output.secret(foundation.secrets.values[secret_refs.LANGFUSE]["adminPassword"]),
        "readSecrets": f"pulumi stack output --stack {stack} --show-secrets masterKey "
                       f"(and litellmUiPassword, langfuseAdminPassword)",
    }
