"""Render the LiteLLM proxy config (settings -> YAML text) and its environment contract.

The rendered file never holds a secret: every credential is an `os.environ/<VAR>` reference,
and `ProxyConfig.env` says which variables the container must receive (secret ones by
reference). This is the base config, the same for any number of teams: the container's start
(team_plane/litellm_start.py) adds each team's `default_team_settings` entry (its traces go to its own
Langfuse project) from the team-plane document; calls without a team go to the platform project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from renderers import yaml_text

from services import secret_refs
from team_plane.litellm_start import GUARD_MODULE, LANGFUSE_HOST_VAR
from services.secret_refs import SecretRef
from services.serving import SERVING, ServingTimeouts
from config.settings import LOCAL, Model, Settings, Team

# The stack's Redis (ElastiCache with TLS, or the host's Valkey): every LiteLLM task coordinates
# rate limits, spend counters and the spend-write buffer through it (`coordination_redis`).
REDIS_VARS = ("REDIS_HOST", "REDIS_PORT", "REDIS_SSL")
REDIS_PASSWORD_VAR = "REDIS_PASSWORD"
# Langfuse keeps its queues in database 0 of the same Valkey; LiteLLM's keys live apart in their
# own database, so neither can read, overwrite or flush the other's.
LITELLM_REDIS_DB = 1
# Spend is written to Postgres in batches, buffered in Redis so tasks do not race on the same
# rows (LiteLLM's recommendation with Redis: use_redis_transaction_buffer, 60 s batches).
SPEND_BATCH_WRITE_SECONDS = 60


@dataclass(frozen=True)
class EnvContract:
    """What a container running this config must get: secret vars by reference, plain vars by name."""

    secrets: Mapping[str, SecretRef]
    plain: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted((*self.secrets, *self.plain)))


@dataclass(frozen=True)
class ProxyConfig:
    text: str
    env: EnvContract


def team_key_vars(team: Team) -> tuple[str, str]:
    """(public, secret) key variable names for a team, e.g. LANGFUSE_PUBLIC_KEY_HOME_RENTALS."""
    return f"LANGFUSE_PUBLIC_KEY_{team.env_suffix}", f"LANGFUSE_SECRET_KEY_{team.env_suffix}"


def _env(var: str) -> str:
    return f"os.environ/{var}"


# The local stack without an AWS profile answers every model with a stand-in: LiteLLM's `mock_response`
# in the deployment's litellm_params (the router passes them into the call, litellm/router.py
# `_acompletion`: `{**litellm_params, ...}`; completion and embedding return mock_completion /
# mock_embedding before any provider code, litellm/main.py). Callers cannot ask for a mock themselves: the proxy drops
# `mock_response` from a request body (litellm/proxy/litellm_pre_call_utils.py). The call is traced and
# charged like any other, at deliberately dear prices: a mocked chat call counts 20 completion tokens
# and its prompt's tokens as the budget reservation of a team key counted them, else 10
# (litellm/main.py mock_completion, litellm/constants.py DEFAULT_MOCK_RESPONSE_*_TOKEN_COUNT), so about
# 0.50 USD, and a small team budget stops the team within a few calls.
STAND_IN_REPLY = "llm-gateway stand-in model: no model was called (compute: local without local.awsProfile)."
STAND_IN_VECTOR = [0.0] * 8  # an embedding call's answer: the model's own size is not known here
STAND_IN_PRICES = {"input_cost_per_token": 0.01, "output_cost_per_token": 0.02}


def is_embedding_model(bedrock_model: str) -> bool:
    """Bedrock names every embedding model so (amazon.titan-embed-*, cohere.embed-*, ...-embeddings-*)."""
    return "embed" in bedrock_model


def _model_entry(model: Model, settings: Settings) -> dict:
    params: dict = {"model": f"bedrock/{model.bedrock_model}"}
    if model.region is not None:  # none on a local stack without aws:region or a model's own
        params["aws_region_name"] = model.region
    entry: dict = {"model_name": model.name, "litellm_params": params}
    local = settings.local if settings.compute == LOCAL else None
    if local is not None and local.aws_profile is None:
        params["mock_response"] = STAND_IN_VECTOR if is_embedding_model(model.bedrock_model) else STAND_IN_REPLY
        entry["model_info"] = dict(STAND_IN_PRICES)
        return entry
    if local is not None:
        # Bedrock through the named profile only (its own boto3 session, litellm/llms/bedrock/
        # base_aws_llm.py): the container's static keys are the object store's.
        params["aws_profile_name"] = local.aws_profile
    if model.input_cost_per_token is not None:
        # The router registers these as the deployment's prices (litellm/router.py,
        # _create_deployment): what spend tracking and budgets charge for a model LiteLLM's map lacks.
        entry["model_info"] = {
            "input_cost_per_token": model.input_cost_per_token,
            "output_cost_per_token": model.output_cost_per_token,
        }
    return entry


LITELLM_LICENSE_KEY = "licenseKey"  # its key in the litellm-external secret


def render_proxy_config(settings: Settings, timeouts: ServingTimeouts = SERVING) -> ProxyConfig:
    secrets: dict[str, SecretRef] = {
        "LITELLM_MASTER_KEY": SecretRef(secret_refs.LITELLM, "masterKey"),
        "LITELLM_SALT_KEY": SecretRef(secret_refs.LITELLM, "saltKey"),
        "DATABASE_URL": SecretRef(secret_refs.LITELLM, "databaseUrl"),
        # The platform project: read by the Langfuse SDK itself for calls without a team.
        "LANGFUSE_PUBLIC_KEY": SecretRef(secret_refs.PLATFORM_KEYS, "publicKey"),
        "LANGFUSE_SECRET_KEY": SecretRef(secret_refs.PLATFORM_KEYS, "secretKey"),
        REDIS_PASSWORD_VAR: SecretRef(secret_refs.REDIS, "authToken"),
        # The admin UI's login, apart from the master key (litellm/proxy/auth/login_utils.py:
        # without UI_PASSWORD the master key is the UI password).
        "UI_USERNAME": SecretRef(secret_refs.LITELLM, "uiUsername"),
        "UI_PASSWORD": SecretRef(secret_refs.LITELLM, "uiPassword"),
        # LiteLLM's enterprise licence, when the stack has one (litellm/proxy/auth/litellm_license.py reads
        # LITELLM_LICENSE): then it makes team admins (team_plane/litellm_members.py).
        **({"LITELLM_LICENSE": SecretRef(secret_refs.LITELLM_EXTERNAL, LITELLM_LICENSE_KEY)}
           if settings.litellm_license_key else {}),
    }
    document = {
        "model_list": [_model_entry(model, settings) for model in settings.models],
        "router_settings": {
            "routing_strategy": "simple-shuffle",
            "num_retries": 2,
            "timeout": timeouts.request,
            # A timed-out call is not tried again: each try may take the whole timeout, and the load
            # balancer gives up on a silent target a minute after one (services/serving.py). Without
            # this the router retries a timeout like any other error (litellm/router.py
            # async_function_with_retries; RetryPolicy.TimeoutErrorRetries, which only it reads,
            # litellm/router_utils/get_retry_from_policy.py).
            "retry_policy": {"TimeoutErrorRetries": 0},
            "allowed_fails": 3,
            "cooldown_time": 30,
        },
        "litellm_settings": {
            "drop_params": True,
            "request_timeout": timeouts.request,
            "success_callback": ["langfuse"],
            "failure_callback": ["langfuse"],
            "default_team_settings": [],  # the teams' entries: added at start (team_plane/litellm_start.py)
            # Every call is traced: a request's `"no-log": true` would skip every callback but
            # LiteLLM's own (litellm_logging.py `should_run_callback`), and a key's
            # `litellm_disabled_callbacks` or the x-litellm-disable-callbacks header would skip the
            # ones they name (litellm_enterprise callback_controls.py, with a licence).
            "global_disable_no_log_param": True,
            "allow_dynamic_callback_disabling": False,
        },
        "general_settings": {
            "master_key": _env("LITELLM_MASTER_KEY"),
            "database_url": _env("DATABASE_URL"),
            # Models live in this file only: nobody adds one through the UI behind code's back.
            "store_model_in_db": False,
            # Read by litellm/proxy/proxy_server.py (_init_coordination_redis) before anything else:
            # rate limits (parallel_request_limiter_v3), spend counters and the router share it.
            "coordination_redis": {
                "host": _env("REDIS_HOST"),
                "port": _env("REDIS_PORT"),
                "password": _env(REDIS_PASSWORD_VAR),
                "ssl": _env("REDIS_SSL"),
                "db": LITELLM_REDIS_DB,
            },
            # No key may carry its own tracing, and a request refused at authentication exports
            # nothing (team_plane/litellm_guard.py, written next to this file at the start).
            "custom_key_policy": f"{GUARD_MODULE}.key_policy",
            "use_redis_transaction_buffer": True,
            "proxy_batch_write_at": SPEND_BATCH_WRITE_SECONDS,
        },
    }
    # The header names where this renderer lived before it moved: the text is LiteLLM's environment, so
    # a changed one is a new task definition on ECS and new user data, a new host, on a compose host.
    header = f"# LiteLLM proxy config for {settings.project}-{settings.stack}: rendered by config/litellm_config.py, do not edit.\n"
    text = header + yaml_text.safe_dump(document, sort_keys=False, default_flow_style=False, width=120)
    return ProxyConfig(text=text, env=EnvContract(secrets=secrets, plain=(LANGFUSE_HOST_VAR, *REDIS_VARS)))
