"""Turn raw Pulumi stack config into `Settings`, or fail with every problem at once.

Input is the stack's whole config map as the Pulumi runtime holds it (`llm-gateway:teams` ->
JSON text, `aws:region` -> text) plus the set of keys that were stored as secrets. No Pulumi
import here: the loader is a pure function, tested table-driven.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from typing import Any

from config import names
from config.bedrock import GEOGRAPHY_REGIONS, GLOBAL, parse_model_id
from config.bedrock_prices import litellm_prices
from config.defaults import GROUP_DEFAULTS, TOP_LEVEL_DEFAULTS
from config.deploy_credentials import parse_deploy_credentials
from config.fargate import FARGATE_SIZES
from config.images import parse_image, registry_problem
from config.instance_types import INSTANCE_TYPES
from config.regions import REGIONS
from config.services import LANGFUSE_PLATFORM_PROJECT_ID
from config.langfuse_access import parse_license, parse_sso
from config.litellm_config import render_proxy_config
from config.services import stack_images
from config.settings import (
    AlarmSettings,
    BackupSettings,
    ClickhouseSettings,
    DatabaseSettings,
    HostSettings,
    LangfuseKeyPair,
    LangfuseSettings,
    LitellmSettings,
    LoadBalancerSettings,
    Model,
    NetworkSettings,
    RedisSettings,
    RegistryCredentials,
    SecretText,
    Settings,
    Team,
)

NAMESPACE = "llm-gateway"
TEAM_NAME = r"^[a-z][a-z0-9-]{1,30}$"
# Names the products themselves refuse (checked apart from the pattern, each with its reason):
# LiteLLM keeps this team id for its admin UI's sessions (litellm/proxy/_types.py UI_TEAM_ID; /team/new
# answers 400), and a team's Langfuse project is named after it, which Langfuse wants at least 3
# characters long (langfuse v4.16.0 web/src/features/auth/lib/projectNameSchema.ts).
LITELLM_UI_TEAM_ID = "litellm-dashboard"
LANGFUSE_PROJECT_NAME_MIN_LENGTH = 3
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
BEDROCK_MODEL = r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$"
REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
DOMAIN = r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
HOSTED_ZONE_ID = r"^[A-Z0-9]{1,32}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
BUDGET_DURATION = r"^[1-9][0-9]*(s|m|h|d|w|mo)$"
RDS_INSTANCE = r"^db\.[a-z0-9]+\.[a-z0-9]+$"
CACHE_NODE = r"^cache\.[a-z0-9]+\.[a-z0-9]+$"
HTTPS_URL = r"^https://[a-z0-9.-]+(:[0-9]{1,5})?/?$"
URL_SAFE_USER = r"^[A-Za-z0-9._~-]+$"  # RFC 3986 unreserved characters: the same in a URL's query
# DLM's CreateRule Times: "hh:mm" in UTC (DLM API Reference, CreateRule).
SNAPSHOT_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# DLM's CrossRegionCopyRule CmkArn pattern (DLM API Reference), narrowed to the commercial partition.
KMS_KEY_ARN = r"^arn:aws:kms:[a-z]{2}-[a-z]+-\d:\d{12}:key/(mrk-)?[0-9a-f-]+$"
UBUNTU_SERIAL = r"^[0-9]{8}(\.[0-9]{1,2})?$"  # a Canonical image serial (20260923, 20260923.1), never "current"
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
MIN_LITELLM = (1, 104)  # Langfuse SDK v4 callback; also clears CVE-2026-42208 (< 1.83.7)
MIN_CLICKHOUSE = (25, 12)  # Langfuse v4 floor
MIN_REDIS = (7,)
# Ceilings on a team's LiteLLM rate limits: typo guards (an extra zero or three), not AWS limits.
# What a team can really use is bounded by the account's Bedrock quotas (Service Quotas); raise
# these if a team ever needs more than 100k requests or 100M tokens per minute.
MAX_RPM_LIMIT = 100_000
MAX_TPM_LIMIT = 100_000_000


class SettingsError(ValueError):
    """Every problem in a stack's config, one per line, each with its key path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"invalid stack config ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


_INVALID = object()


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str, value: Any = _INVALID) -> object:
        shown = "" if value is _INVALID else f" {_show(value)}"
        self.items.append(f"{path}{shown} {message}")
        return _INVALID


Parser = Callable[[Any, str, _Problems], Any]


def _string(pattern: str | None = None, choices: tuple[str, ...] = ()) -> Parser:
    def parse(value: Any, path: str, problems: _Problems) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            return problems.add(path, "must be a non-empty string", value)
        if choices and value not in choices:
            return problems.add(path, f"must be one of: {', '.join(choices)}", value)
        if pattern and not re.fullmatch(pattern, value):
            return problems.add(path, f"must match {pattern}", value)
        return value

    return parse


def _integer(minimum: int | None = None, maximum: int | None = None,
             allowed: tuple[int, ...] = ()) -> Parser:
    def parse(value: Any, path: str, problems: _Problems) -> Any:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            return problems.add(path, "must be an integer", value)
        if allowed and value not in allowed:
            return problems.add(path, f"must be one of: {', '.join(map(str, allowed))}", value)
        if minimum is not None and value < minimum:
            return problems.add(path, f"must be >= {minimum}", value)
        if maximum is not None and value > maximum:
            return problems.add(path, f"must be <= {maximum}", value)
        return value

    return parse


def _number(minimum: float) -> Parser:
    def parse(value: Any, path: str, problems: _Problems) -> Any:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return problems.add(path, "must be a number", value)
        if not math.isfinite(value):
            return problems.add(path, "must be a finite number", str(value))
        if value < minimum:
            return problems.add(path, f"must be >= {minimum:g}", value)
        return float(value)

    return parse


def _boolean(value: Any, path: str, problems: _Problems) -> Any:
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, bool):
        return problems.add(path, "must be true or false", value)
    return value


def _image(value: Any, path: str, problems: _Problems) -> Any:
    if _string()(value, path, problems) is _INVALID:
        return _INVALID
    image = parse_image(value)
    if image is None:
        return problems.add(path, "must be an image reference name:tag@sha256:<64 hex>", value)
    # The value stays parsed (the config is rejected all the same) so the version rules report too.
    if image.digest is None:
        # Nothing resolves a tag at deploy time (no registry, no Docker daemon on the deploying machine).
        problems.add(
            path, "must carry its digest (name:tag@sha256:<64 hex>): read it where the registry is reachable "
            f"with `scripts/pin_images.py --resolve {value}` or `docker buildx imagetools inspect {value}`", value,
        )
    if problem := registry_problem(image):
        problems.add(path, problem, value)
    return value


def _cidr(value: Any, path: str, problems: _Problems) -> Any:
    if not isinstance(value, str):
        return problems.add(path, "must be an IPv4 CIDR such as 10.0.0.0/8", value)
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        return problems.add(path, f"is not a valid IPv4 CIDR ({error})", value)
    if network.version != 4 or "/" not in value:
        return problems.add(path, "must be an IPv4 CIDR such as 10.0.0.0/8", value)
    return value


def _distinct_cidrs(path: str, cidrs: tuple[str, ...], problems: _Problems) -> None:
    """Each range once: a repeated one is a rule AWS refuses as a duplicate, a nested one is dead
    (or a typo for another range)."""
    networks = [ipaddress.ip_network(cidr) for cidr in cidrs]
    for i, network in enumerate(networks):
        for j, earlier in enumerate(networks[:i]):
            if network == earlier:
                problems.add(f"{path}[{i}]", f"duplicates {path}[{j}]", cidrs[i])
            elif network.overlaps(earlier):
                problems.add(f"{path}[{i}]", f"overlaps {path}[{j}] '{cidrs[j]}' (list each range once)", cidrs[i])


def _list(item: Parser, *, non_empty: bool = False) -> Parser:
    def parse(value: Any, path: str, problems: _Problems) -> Any:
        if not isinstance(value, list):
            return problems.add(path, "must be a list", value)
        if non_empty and not value:
            return problems.add(path, "must not be empty")
        parsed = [item(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
        return _INVALID if _INVALID in parsed else tuple(parsed)

    return parse


def _object(value: Any, path: str, known: Collection[str], problems: _Problems) -> dict | None:
    """The mapping at `path`, with every key not in `known` reported (typos)."""
    if not isinstance(value, dict):
        problems.add(path, "must be an object", value)
        return None
    for key in value:
        if key not in known:
            problems.add(_join(path, key), f"is not a known key{_suggest(key, known)}")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(key: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"


def _fields(raw: dict, path: str, spec: Mapping[str, Parser], defaults: Mapping[str, Any],
            problems: _Problems) -> dict[str, Any] | None:
    """Parse every field of `spec`, falling back to `defaults`; None if any field is invalid."""
    parsed = {}
    for key, parser in spec.items():
        if key in raw:
            parsed[key] = parser(raw[key], _join(path, key), problems)
        elif key in defaults:
            parsed[key] = defaults[key]
        else:
            parsed[key] = problems.add(_join(path, key), "is required")
    return None if _INVALID in parsed.values() else parsed


def _fargate_size(path: str, cpu_key: str, memory_key: str, values: dict, problems: _Problems) -> None:
    cpu, memory = values[cpu_key], values[memory_key]
    if cpu not in FARGATE_SIZES:
        problems.add(_join(path, cpu_key), f"must be a Fargate CPU size ({', '.join(map(str, FARGATE_SIZES))})", cpu)
    elif memory not in FARGATE_SIZES[cpu]:
        allowed = FARGATE_SIZES[cpu]
        problems.add(
            _join(path, memory_key),
            f"is not a Fargate memory size for cpu {cpu} ({allowed.start}-{allowed.stop - 1} MiB "
            f"in steps of {allowed.step})",
            memory,
        )


def _at_least(path: str, reference: str, minimum: tuple[int, ...], what: str, problems: _Problems) -> None:
    version = parse_image(reference).version
    if version is None or version[: len(minimum)] < minimum:
        problems.add(path, f"must be {what} {'.'.join(map(str, minimum))} or newer", reference)


def _decode(value: Any) -> Any:
    """Pulumi hands structured config and scalars alike as text; recover the JSON value."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


GROUP_SPECS: dict[str, dict[str, Parser]] = {
    "network": {
        "vpcCidr": _cidr,
        "azCount": _integer(2, 6),
        "natGateways": _string(choices=("single", "perAz")),
        "interfaceEndpoints": _boolean,
        "flowLogRetentionDays": _integer(allowed=LOG_RETENTION_DAYS),
    },
    "database": {
        "engineVersion": _string(choices=("16", "17")),
        "instanceClass": _string(RDS_INSTANCE),
        "allocatedStorageGb": _integer(20, 65536),
        "maxAllocatedStorageGb": _integer(20, 65536),
        "multiAz": _boolean,
        "backupRetentionDays": _integer(1, 35),
        "performanceInsights": _boolean,
        "restoredInstance": _string(r"^[a-z](-?[a-z0-9])*$"),
    },
    "litellm": {
        "image": _image,
        "cpu": _integer(),
        "memory": _integer(),
        "desiredCount": _integer(1, 100),
        "maxCount": _integer(1, 100),
        "maxRequestsBeforeRestart": _integer(100),
    },
    "langfuse": {
        "webImage": _image,
        "workerImage": _image,
        "webCpu": _integer(),
        "webMemory": _integer(),
        "webDesiredCount": _integer(1, 50),
        "webMaxCount": _integer(1, 50),
        "workerCpu": _integer(),
        "workerMemory": _integer(),
        "workerDesiredCount": _integer(1, 50),
        "telemetryEnabled": _boolean,
        "authDisableSignup": _boolean,
        "adminEmail": _string(EMAIL),
        "organizationName": _string(),
    },
    "clickhouse": {
        "image": _image,
        "instanceType": _string(choices=tuple(INSTANCE_TYPES)),
        "dataVolumeGb": _integer(10, 16384),
        "externalUrl": _string(HTTPS_URL),
        "externalUser": _string(),
    },
    "redis": {
        "image": _image,
        "nodeType": _string(CACHE_NODE),
        "engineVersion": _string(r"^[0-9]+\.[0-9]+$"),
        "replicas": _integer(0, 5),
    },
    "loadBalancer": {
        "scheme": _string(choices=("internet-facing", "internal")),
        "public": _boolean,
    },
    "backup": {
        "snapshotRetentionDays": _integer(1, 365),  # a typo guard
        "snapshotTime": _string(SNAPSHOT_TIME),
        "copyToRegion": _string(REGION),
        "copyKmsKeyArn": _string(KMS_KEY_ARN),
    },
    "host": {
        "instanceType": _string(choices=tuple(INSTANCE_TYPES)),
        "dataVolumeGb": _integer(10, 16384),
        "rootVolumeGb": _integer(20, 1024),
        "ubuntuSerial": _string(UBUNTU_SERIAL),
    },
    "alarms": {
        "emails": _list(_string(EMAIL)),
        "http5xxPercent": _integer(1, 100),
        "unhealthyHosts": _integer(1, 100),
        "diskUsedPercent": _integer(1, 99),
        "databaseCpuPercent": _integer(1, 100),
        "databaseFreeStorageGb": _integer(1, 65536),
        "databaseConnections": _integer(1, 100000),
        "valkeyMemoryPercent": _integer(1, 100),
        "langfuseQueueLength": _integer(1),
        "litellmErrors": _integer(1),
    },
}

TOP_LEVEL_KEYS = (
    "compute", "environment", "domain", "hostedZoneId", "allowedCidrs", "allowInsecureHttp",
    "protect", "logRetentionDays", "models", "teams", "existingLangfuseKeys", "clickhouseExternalPassword",
    "langfuseOrganizationKeys", "langfuseSso", "langfuseSsoClientSecret", "langfuseEeLicenseKey",
    "dockerHubCredentials",
    *GROUP_SPECS,
)


def _check_groups(groups: dict[str, dict], environment: str, problems: _Problems) -> None:
    """Rules that span keys of one group: what AWS or the apps would reject at deploy time."""
    if groups.get("litellm"):
        litellm = groups["litellm"]
        _fargate_size("litellm", "cpu", "memory", litellm, problems)
        if litellm["maxCount"] < litellm["desiredCount"]:
            problems.add("litellm.maxCount", f"must be >= litellm.desiredCount ({litellm['desiredCount']})", litellm["maxCount"])
        _at_least("litellm.image", litellm["image"], MIN_LITELLM, "LiteLLM", problems)
    if groups.get("langfuse"):
        langfuse = groups["langfuse"]
        _fargate_size("langfuse", "webCpu", "webMemory", langfuse, problems)
        _fargate_size("langfuse", "workerCpu", "workerMemory", langfuse, problems)
        if langfuse["webMaxCount"] < langfuse["webDesiredCount"]:
            problems.add("langfuse.webMaxCount", f"must be >= langfuse.webDesiredCount ({langfuse['webDesiredCount']})", langfuse["webMaxCount"])
        web, worker = parse_image(langfuse["webImage"]), parse_image(langfuse["workerImage"])
        if (web.version or (0,))[0] != 4:
            problems.add("langfuse.webImage", "must be a Langfuse v4 image (tag 4.x)", langfuse["webImage"])
        if web.tag != worker.tag:
            problems.add("langfuse.workerImage", f"must have the web image's tag ({web.tag})", langfuse["workerImage"])
    if groups.get("clickhouse"):
        _at_least("clickhouse.image", groups["clickhouse"]["image"], MIN_CLICKHOUSE, "ClickHouse", problems)
    if groups.get("redis"):
        redis = groups["redis"]
        _at_least("redis.image", redis["image"], MIN_REDIS, "Redis/Valkey", problems)
        if int(redis["engineVersion"].split(".")[0]) < MIN_REDIS[0]:
            problems.add("redis.engineVersion", "must be 7.0 or newer", redis["engineVersion"])
    if groups.get("database"):
        database = groups["database"]
        if database["maxAllocatedStorageGb"] < database["allocatedStorageGb"]:
            problems.add("database.maxAllocatedStorageGb", f"must be >= database.allocatedStorageGb ({database['allocatedStorageGb']})", database["maxAllocatedStorageGb"])
        if environment == "prod" and database["backupRetentionDays"] < 7:
            problems.add("database.backupRetentionDays", "must be >= 7 in prod", database["backupRetentionDays"])
    if groups.get("alarms"):
        emails = groups["alarms"]["emails"]
        lowered = [email.lower() for email in emails]
        for i, email in enumerate(emails):
            if lowered.index(email.lower()) < i:  # SNS would hold one subscription for both
                problems.add(f"alarms.emails[{i}]", f"duplicates alarms.emails[{lowered.index(email.lower())}]", email)
        if groups.get("database") and groups["alarms"]["databaseFreeStorageGb"] >= groups["database"]["allocatedStorageGb"]:
            problems.add("alarms.databaseFreeStorageGb", f"must be below database.allocatedStorageGb "
                         f"({groups['database']['allocatedStorageGb']}): the alarm would never clear",
                         groups["alarms"]["databaseFreeStorageGb"])
    if groups.get("network"):
        prefix = ipaddress.ip_network(groups["network"]["vpcCidr"]).prefixlen
        if not 16 <= prefix <= 22:
            problems.add("network.vpcCidr", "must be a /16 to /22 network (subnets are carved as prefix+4)", groups["network"]["vpcCidr"])


# A range wider than a /8 (16.7M addresses) is no office, VPN or peered network: it is the internet,
# or most of it (0.0.0.0/1 + 128.0.0.0/1 is 0.0.0.0/0 spelled twice).
WIDEST_PRIVATE_PREFIX = 8


def _check_exposure(cidrs: tuple[str, ...] | None, load_balancer: dict | None, environment: str,
                    problems: _Problems) -> None:
    """Prod faces the whole internet only when the stack says it means to (loadBalancer.public)."""
    if not load_balancer:
        return
    internal = load_balancer["scheme"] == "internal"
    if internal and load_balancer["public"]:
        problems.add("loadBalancer.public", "contradicts loadBalancer.scheme 'internal' (an internal load balancer "
                     "has private addresses only)", True)
        return
    if environment != "prod" or load_balancer["public"] or not cidrs:
        return
    for i, cidr in enumerate(cidrs):
        if ipaddress.ip_network(cidr).prefixlen < WIDEST_PRIVATE_PREFIX:
            hint = ("list the networks that reach the internal load balancer (VPN, Direct Connect, peering)" if internal
                    else "list your office/VPN ranges, or set loadBalancer.public: true if the gateway is meant "
                    "to be public")
            problems.add(f"allowedCidrs[{i}]", f"is wider than a /{WIDEST_PRIVATE_PREFIX} (the internet, or most of "
                         f"it): refused in prod; {hint}", cidr)


def _check_recovery(groups: dict[str, dict], name_prefix: str, region: str | None, problems: _Problems) -> None:
    """A restored database keeps the stack's name; snapshot copies go to another Region, in its key."""
    restored = (groups.get("database") or {}).get("restoredInstance")
    if restored is not None:
        original = names.database(name_prefix)
        if not restored.startswith(f"{original}-") or len(restored) > names.LIMITS["RDS instance"].max_length:
            problems.add("database.restoredInstance", f"must be {original}-<suffix>, at most "
                         f"{names.LIMITS['RDS instance'].max_length} characters (scripts/restore.py names it)", restored)
    backup = groups.get("backup")
    if not backup:
        return
    copy_region, copy_key = backup["copyToRegion"], backup["copyKmsKeyArn"]
    if copy_region is not None and copy_region == region:
        problems.add("backup.copyToRegion", "must be another Region than aws:region", copy_region)
    if copy_key is not None and copy_region is None:
        problems.add("backup.copyKmsKeyArn", "needs backup.copyToRegion", copy_key)
    elif copy_key is not None and copy_key.split(":")[3] != copy_region:
        problems.add("backup.copyKmsKeyArn", f"must be a key in backup.copyToRegion ({copy_region}): "
                     "a KMS key encrypts only in its own Region", copy_key)


def _parse_models(raw: Any, region: str | None, problems: _Problems) -> tuple[Model, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add("models", "must be a non-empty list of {name, bedrockModel, region?}", raw)
        return ()
    models, seen = [], {}
    for i, entry in enumerate(raw):
        path = f"models[{i}]"
        entry = _object(entry, path, ("name", "bedrockModel", "region", "destinationRegions", *PRICE_KEYS), problems)
        if entry is None:
            continue
        fields = _fields(
            entry, path,
            {"name": _string(MODEL_NAME), "bedrockModel": _string(BEDROCK_MODEL),
             "region": _string(REGION), "destinationRegions": _list(_string(REGION)),
             **dict.fromkeys(PRICE_KEYS, _number(0))},
            {"region": region, "destinationRegions": (), **dict.fromkeys(PRICE_KEYS)}, problems,
        )
        if fields is None or fields["region"] is None:
            continue
        # Clients and people confuse names that differ only by case: one of them is a mistake.
        if fields["name"].lower() in seen:
            problems.add(f"{path}.name", f"duplicates models[{seen[fields['name'].lower()]}].name", fields["name"])
            continue
        seen[fields["name"].lower()] = i
        if "region" in entry and fields["region"] not in REGIONS:
            problems.add(f"{path}.region", _unsupported_region(), fields["region"])
            continue
        geography = parse_model_id(fields["bedrockModel"]).geography
        if geography not in (None, GLOBAL) and fields["region"] not in GEOGRAPHY_REGIONS[geography]:
            problems.add(
                f"{path}.region",
                f"cannot call the {geography}. inference profile {fields['bedrockModel']} "
                f"(regions: {', '.join(GEOGRAPHY_REGIONS[geography])})",
                fields["region"],
            )
            continue
        if fields["destinationRegions"] and geography is None:
            problems.add(f"{path}.destinationRegions", "applies to inference profiles only", list(fields["destinationRegions"]))
            continue
        if not _priced(fields, path, problems):
            continue
        models.append(Model(
            fields["name"], fields["bedrockModel"], fields["region"], fields["destinationRegions"],
            fields["inputCostPerToken"], fields["outputCostPerToken"],
        ))
    return tuple(models)


# LiteLLM runs with LITELLM_LOCAL_MODEL_COST_MAP=True: a model missing from its bundled price map
# costs 0, so spend is never recorded and budgets never stop the team. Such a model needs prices.
PRICE_KEYS = ("inputCostPerToken", "outputCostPerToken")


def _priced(fields: dict[str, Any], path: str, problems: _Problems) -> bool:
    given = [key for key in PRICE_KEYS if fields[key] is not None]
    if given and len(given) < len(PRICE_KEYS):
        missing = next(key for key in PRICE_KEYS if key not in given)
        problems.add(f"{path}.{missing}", f"is required with {given[0]}")
        return False
    if not given and not litellm_prices(fields["bedrockModel"]):
        problems.add(
            f"{path}.bedrockModel",
            "has no price in the pinned LiteLLM's price map: set inputCostPerToken and outputCostPerToken "
            "(USD per token), or budgets never stop a team using it",
            fields["bedrockModel"],
        )
        return False
    return True


def _refused_team_name(name: str) -> str | None:
    """Why LiteLLM or Langfuse would refuse this team name, or None."""
    if name == LITELLM_UI_TEAM_ID:
        return "is reserved by LiteLLM for its admin UI's sessions: /team/new refuses it"
    if len(name) < LANGFUSE_PROJECT_NAME_MIN_LENGTH:
        return (f"must have at least {LANGFUSE_PROJECT_NAME_MIN_LENGTH} characters: the team's Langfuse project "
                "is named after it, and Langfuse refuses shorter project names")
    return None


def _parse_teams(raw: Any, model_names: set[str], problems: _Problems) -> tuple[Team, ...]:
    if not isinstance(raw, list):
        problems.add("teams", "must be a list", raw)
        return ()
    teams, seen = [], {}
    for i, entry in enumerate(raw):
        path = f"teams[{i}]"
        entry = _object(entry, path, ("name", "models", "maxBudget", "budgetDuration", "rpmLimit",
                                      "tpmLimit", "langfuseKeys"), problems)
        if entry is None:
            continue
        fields = _fields(
            entry, path,
            {"name": _string(TEAM_NAME), "models": _list(_string()), "maxBudget": _number(0),
             "budgetDuration": _string(BUDGET_DURATION), "rpmLimit": _integer(1, MAX_RPM_LIMIT),
             "tpmLimit": _integer(1, MAX_TPM_LIMIT), "langfuseKeys": _string(choices=("generate", "existing"))},
            {"models": (), "maxBudget": None, "budgetDuration": None, "rpmLimit": None,
             "tpmLimit": None, "langfuseKeys": "generate"},
            problems,
        )
        if fields is None:
            continue
        if fields["name"] == LANGFUSE_PLATFORM_PROJECT_ID:
            problems.add(f"{path}.name", "is reserved: it is the platform project, which traces every call "
                         "made without a team", fields["name"])
            continue
        refused = _refused_team_name(fields["name"])
        if refused:
            problems.add(f"{path}.name", refused, fields["name"])
            continue
        if fields["name"] in seen:
            problems.add(f"{path}.name", f"duplicates teams[{seen[fields['name']]}].name", fields["name"])
            continue
        seen[fields["name"]] = i
        unknown = [(j, m) for j, m in enumerate(fields["models"]) if m not in model_names]
        for j, name in unknown:
            problems.add(f"{path}.models[{j}]", f"is not a configured model (known: {', '.join(sorted(model_names))})", name)
        if fields["budgetDuration"] and fields["maxBudget"] is None:
            problems.add(f"{path}.budgetDuration", "needs maxBudget", fields["budgetDuration"])
        if not unknown:
            teams.append(Team(
                name=fields["name"], models=fields["models"], max_budget=fields["maxBudget"],
                budget_duration=fields["budgetDuration"], rpm_limit=fields["rpmLimit"],
                tpm_limit=fields["tpmLimit"], langfuse_keys=fields["langfuseKeys"],
            ))
    return tuple(teams)


def _attach_existing_keys(teams: tuple[Team, ...], raw: Any, is_secret: bool,
                          problems: _Problems) -> tuple[Team, ...]:
    """Join `existingLangfuseKeys` (a secret config object) onto the teams that declared it."""
    path = "existingLangfuseKeys"
    wanted = {team.name for team in teams if team.langfuse_keys == "existing"}
    if raw is None:
        raw = {}
    elif not is_secret:
        problems.add(path, "must be set with `pulumi config set --secret --path ...`, never in plain text")
        return teams
    if not isinstance(raw, dict):
        problems.add(path, "must be an object of team -> {publicKey, secretKey}")
        return teams
    for name in raw:
        if name not in wanted:
            problems.add(f"{path}.{name}", "is not a team with langfuseKeys: existing")
    pairs = {}
    for name in sorted(wanted):
        pair = _key_pair(raw.get(name), f"{path}.{name}", problems)
        if pair:
            pairs[name] = pair
    return tuple(
        replace(team, existing_keys=pairs[team.name]) if team.name in pairs else team
        for team in teams
    )


def _key_pair(entry: Any, path: str, problems: _Problems) -> LangfuseKeyPair | None:
    """A Langfuse key pair from secret config; problems name the key, never the value."""
    if not isinstance(entry, dict) or set(entry) != {"publicKey", "secretKey"}:
        problems.add(path, "must hold publicKey and secretKey")
        return None
    valid = True
    for key, prefix in (("publicKey", "pk-lf-"), ("secretKey", "sk-lf-")):
        if not isinstance(entry[key], str) or not entry[key].startswith(prefix):
            problems.add(f"{path}.{key}", f"must start with {prefix}")
            valid = False
    return LangfuseKeyPair(SecretText(entry["publicKey"]), SecretText(entry["secretKey"])) if valid else None


# Keys a stack may still hold from an earlier version, and what replaced them.
RETIRED_KEYS = {
    "langfuseOrganizationKeys": "is no longer used: the team plane writes every team's Langfuse project and keys "
                                "inside the VPC in every Langfuse edition (README, Teams); remove it with "
                                "`pulumi config rm langfuseOrganizationKeys`",
}


def _external_clickhouse_password(clickhouse: dict | None, compute: str | None, password: Any,
                                  is_secret: bool, problems: _Problems) -> SecretText | None:
    """ClickHouse Cloud (or any external ClickHouse) instead of the stack's own host: ECS only."""
    url = (clickhouse or {}).get("externalUrl")
    if url is None:
        if password is not None:
            problems.add("clickhouseExternalPassword", "needs clickhouse.externalUrl")
        return None
    if compute == "ec2":
        problems.add("clickhouse.externalUrl", "applies to compute: ecs (the EC2 host runs its own ClickHouse)", url)
    user = clickhouse["externalUser"]
    if not re.fullmatch(URL_SAFE_USER, user):
        problems.add("clickhouse.externalUser", f"must match {URL_SAFE_USER}: Langfuse's migration puts it into a URL "
                     "unescaped (packages/shared/clickhouse/scripts/up.sh `?username=$CLICKHOUSE_USER&...`)", user)
    if password is None:
        problems.add("clickhouseExternalPassword", "is required with clickhouse.externalUrl "
                     "(pulumi config set --secret clickhouseExternalPassword ...)")
        return None
    if not is_secret:
        problems.add("clickhouseExternalPassword", "must be set with `pulumi config set --secret`, never in plain text")
        return None
    return SecretText(str(password))


def _unsupported_region() -> str:
    return f"is not a Region this program serves (config/regions.py: {', '.join(sorted(REGIONS))})"


def _check_stack_name(project: str, stack: str, problems: _Problems) -> None:
    """Every AWS name starts with `<project>-<stack>` (config/names.py): bound it so each fits."""
    if not re.fullmatch(names.STACK_NAME, project):
        problems.add("project", f"(Pulumi.yaml name) must match {names.STACK_NAME}", project)
        return
    longest = names.max_stack_length(project)
    if not re.fullmatch(names.STACK_NAME, stack):
        problems.add("stack", f"name must match {names.STACK_NAME} (S3, RDS and ElastiCache names are built from it)", stack)
    elif len(stack) > longest:
        problems.add("stack", f"name must have at most {longest} characters (the longest AWS name built from it "
                     "must fit its limit, see config/names.py)", stack)


DOCKER_HUB_CREDENTIALS = "dockerHubCredentials"
# Docker docs, "Access token reference": the lowest permission that pulls public images.
DOCKER_HUB_TOKEN_HOWTO = (
    "create a Docker Hub personal access token with the permission 'Repo Public Read-only' (Docker Hub: "
    "Account settings > Personal access tokens), then `pulumi config set --secret --path "
    f"{DOCKER_HUB_CREDENTIALS}.username <Docker ID>` and `pulumi config set --secret --path "
    f"{DOCKER_HUB_CREDENTIALS}.accessToken <token>`"
)


def _docker_hub_credentials(raw: Any, is_secret: bool, problems: _Problems) -> RegistryCredentials | None:
    """Docker Hub pull credentials from secret config; problems name the key, never the value."""
    path = DOCKER_HUB_CREDENTIALS
    if raw is None:
        return None
    if not is_secret:
        problems.add(path, "must be set with `pulumi config set --secret --path ...`, never in plain text")
        return None
    if _object(raw, path, ("username", "accessToken"), problems) is None:
        return None
    valid = True
    for key in ("username", "accessToken"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            problems.add(f"{path}.{key}", f"is required, a non-empty string: {DOCKER_HUB_TOKEN_HOWTO}")
            valid = False
    return RegistryCredentials(SecretText(raw["username"]), SecretText(raw["accessToken"])) if valid else None


def _docker_hub_problem(settings: Settings) -> str | None:
    """Prod pulls Docker Hub images authenticated: anonymous pulls are limited per NAT address."""
    if settings.environment != "prod" or settings.docker_hub_credentials is not None:
        return None
    on_hub = sorted(image.tagged for image in map(parse_image, stack_images(settings, render_proxy_config(settings)))
                    if image.registry == "docker.io")
    if not on_hub:
        return None
    return (f"{DOCKER_HUB_CREDENTIALS} is required in prod: {', '.join(on_hub)} come from Docker Hub, whose anonymous "
            f"pulls are limited per address (config/images.py DOCKER_HUB_ONLY); {DOCKER_HUB_TOKEN_HOWTO}")


def load_settings(raw_config: Mapping[str, Any], secret_keys: Collection[str], stack: str,
                  project: str = NAMESPACE) -> Settings:
    """Validate the stack config and return Settings; raise SettingsError listing every problem."""
    problems = _Problems()
    prefix = f"{project}:"
    raw = {k[len(prefix):]: _decode(v) for k, v in raw_config.items() if k.startswith(prefix)}
    _object(raw, "", TOP_LEVEL_KEYS, problems)

    _check_stack_name(project, stack, problems)
    region = raw_config.get("aws:region")
    if not region:
        region = problems.add("aws:region", "is required (pulumi config set aws:region <region>)")
    elif not re.fullmatch(REGION, region):
        region = problems.add("aws:region", f"must match {REGION}", region)
    elif region not in REGIONS:
        region = problems.add("aws:region", _unsupported_region(), region)
    region = None if region is _INVALID else region
    deploy_credentials = parse_deploy_credentials(raw_config, secret_keys, problems.add)

    compute = raw.get("compute")
    if compute is None:
        problems.add("compute", "is required (one of: ecs, ec2)")
    else:
        compute = _string(choices=("ecs", "ec2"))(compute, "compute", problems)

    environment = raw.get("environment", stack if stack in ("stg", "prod") else None)
    if environment is None:
        problems.add("environment", f"is required for stack '{stack}' (one of: stg, prod)")
    else:
        environment = _string(choices=("stg", "prod"))(environment, "environment", problems)
        if stack in ("stg", "prod") and environment not in (stack, _INVALID):
            # The policy pack and every default follow `environment`: prod judged as stg is not prod.
            problems.add("environment", f"must be '{stack}' in the stack named {stack} (or leave it out)", environment)
    env = environment if environment in ("stg", "prod") else "stg"

    top = _fields(
        raw, "",
        {"domain": _string(DOMAIN), "hostedZoneId": _string(HOSTED_ZONE_ID),
         "allowedCidrs": _list(_cidr, non_empty=True), "allowInsecureHttp": _boolean,
         "protect": _boolean, "logRetentionDays": _integer(allowed=LOG_RETENTION_DAYS)},
        {"domain": None, "hostedZoneId": None, "allowInsecureHttp": False, **TOP_LEVEL_DEFAULTS[env]},
        problems,
    ) or {}
    if top.get("allowedCidrs"):
        _distinct_cidrs("allowedCidrs", top["allowedCidrs"], problems)
    if top.get("hostedZoneId") and not top.get("domain"):
        problems.add("hostedZoneId", "needs domain", top["hostedZoneId"])
    if env == "prod" and top.get("domain") and not top.get("hostedZoneId"):
        # Without a zone the first deploy waits on records created by hand; prod must finish on its own.
        problems.add("hostedZoneId", "is required in prod with domain: the certificate validation and the "
                     "litellm./langfuse. records are created in that Route53 zone (pulumi config set hostedZoneId <zone id>)")
    if "domain" in top and not top["domain"] and not top["allowInsecureHttp"]:
        problems.add("domain", "is required unless allowInsecureHttp is true (plain HTTP on the load balancer name)")
    if top.get("allowInsecureHttp") and env == "prod":
        problems.add("allowInsecureHttp", "must not be true in prod", True)
    if top.get("allowInsecureHttp") and top.get("domain"):
        problems.add("allowInsecureHttp", "must not be set together with domain (HTTPS is used)", True)

    groups: dict[str, dict] = {}
    for group, spec in GROUP_SPECS.items():
        value = _object(raw.get(group, {}), group, spec, problems)
        if value is not None:
            groups[group] = _fields(value, group, spec, GROUP_DEFAULTS[group][env], problems)
    _check_groups(groups, env, problems)
    _check_exposure(top.get("allowedCidrs"), groups.get("loadBalancer"), env, problems)
    _check_recovery(groups, names.prefix(project, stack), region, problems)

    models = _parse_models(raw.get("models"), region, problems)
    teams = _parse_teams(raw.get("teams", []), {m.name for m in models}, problems)
    teams = _attach_existing_keys(teams, raw.get("existingLangfuseKeys"),
                                  f"{prefix}existingLangfuseKeys" in secret_keys, problems)

    external_password = _external_clickhouse_password(
        groups.get("clickhouse"), compute, raw.get("clickhouseExternalPassword"),
        f"{prefix}clickhouseExternalPassword" in secret_keys, problems,
    )

    for key, why in RETIRED_KEYS.items():
        if key in raw:
            problems.add(key, why)
    langfuse_sso = parse_sso(
        raw.get("langfuseSso"), raw.get("langfuseSsoClientSecret"), f"{prefix}langfuseSsoClientSecret" in secret_keys,
        (groups.get("langfuse") or {}).get("adminEmail"), problems,
    )
    license_key = parse_license(raw.get("langfuseEeLicenseKey"), f"{prefix}langfuseEeLicenseKey" in secret_keys, problems)
    docker_hub = _docker_hub_credentials(
        raw.get(DOCKER_HUB_CREDENTIALS), f"{prefix}{DOCKER_HUB_CREDENTIALS}" in secret_keys, problems,
    )

    if problems.items:
        raise SettingsError(problems.items)
    settings = Settings(
        stack=stack, environment=environment, region=region, compute=compute,
        domain=top["domain"], hosted_zone_id=top["hostedZoneId"],
        allowed_cidrs=top["allowedCidrs"], allow_insecure_http=top["allowInsecureHttp"],
        protect=top["protect"], log_retention_days=top["logRetentionDays"],
        models=models, teams=teams,
        network=NetworkSettings(**_snake(groups["network"])),
        database=DatabaseSettings(**_snake(groups["database"])),
        litellm=LitellmSettings(**_snake(groups["litellm"])),
        langfuse=LangfuseSettings(**_snake(groups["langfuse"])),
        clickhouse=ClickhouseSettings(**_snake(groups["clickhouse"]), external_password=external_password),
        redis=RedisSettings(**_snake(groups["redis"])),
        host=HostSettings(**_snake(groups["host"])),
        load_balancer=LoadBalancerSettings(**_snake(groups["loadBalancer"])),
        backup=BackupSettings(**_snake(groups["backup"])),
        alarms=AlarmSettings(**_snake(groups["alarms"])),
        langfuse_sso=langfuse_sso,
        langfuse_ee_license_key=license_key,
        docker_hub_credentials=docker_hub,
        deploy_credentials=deploy_credentials,
        project=project,
    )
    # Which images run is known once the settings are whole (the services decide it).
    if problem := _docker_hub_problem(settings):
        raise SettingsError([problem])
    return settings


def _snake(values: dict[str, Any]) -> dict[str, Any]:
    """camelCase config keys -> snake_case dataclass fields (`dataVolumeGb` -> `data_volume_gb`)."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in values.items()}
