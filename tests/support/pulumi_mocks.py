"""Recording Pulumi mocks: run a component or the whole program, keep every registration.

- Every resource registration is kept with its inputs (camelCase, secrets still wrapped) and
  the resource options the engine would see (protect, parent, retain_on_delete, ...).
- Outputs a real provider computes are computed here in AWS's shapes (`vpc-`/`subnet-`/`sg-`/`i-`
  + 17 hex, Secrets Manager ARNs with their 6-character suffix, UUID version ids, name_prefix
  completed with the provider's 26 characters, Pulumi auto-names with 7 hex, random values that
  honour their inputs); outputs the provider marks secret come back secret, as from the engine.
  What AWS generates once is stable per resource, so two runs of one config agree.
- A registration whose name AWS (or the provider) would refuse raises AwsWouldRefuse (NAMING), as
  does an instance whose user data EC2 would refuse (more than 16384 bytes).
- `call` answers the invokes the program is known to make and raises on any other, so a new
  data-source lookup cannot slip in unnoticed.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import json
import logging
import random
import re
import runpy
import secrets
import string
import threading
import uuid
from unittest import mock
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pulumi
from pulumi.runtime import resource as sdk_resource, rpc
from pulumi.runtime.sync_await import _ensure_event_loop
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import source_pb2

from components.compose_host import UBUNTU_ARM64_AMI
from reference.fargate import is_fargate_size
from config.defaults import UBUNTU_SERIAL

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"


def ami_id(parameter: str) -> str:
    """The AMI an SSM parameter names unless a test says otherwise: one per parameter, real shape."""
    return "ami-" + hashlib.sha256(parameter.encode()).hexdigest()[:17]


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def unwrap(value: Any) -> Any:
    """Plain value with every secret wrapper removed (for assertions on content)."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def plain_strings(value: Any) -> list[str]:
    """Every string in `value` that is NOT inside a secret wrapper."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in plain_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in plain_strings(v)]
    return [value] if isinstance(value, str) else []


@dataclass
class Registration:
    typ: str
    name: str
    id: str
    inputs: dict
    outputs: dict
    urn: str
    custom: bool
    protect: bool
    parent: str
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list
    create_timeout: str  # customTimeouts.create, "" when the provider's default applies
    dependencies: list
    property_dependencies: dict  # input name -> URNs it depends on (what stack policies see)
    sent: bytes  # the inputs as the SDK serialized them (see `as_sent`)

    def input(self, key: str, default: Any = None) -> Any:
        return unwrap(self.inputs.get(key, default))

    def as_sent(self, key: str) -> Any:
        """An input with each secret value wrapped where it stands, e.g. one entry of a list: `inputs`
        are deserialized as the engine hands them to a provider, where a secret entry makes its
        whole list or dict secret (pulumi/runtime/rpc.py deserialize_property)."""
        return json_format.MessageToDict(struct_pb2.Struct.FromString(self.sent)).get(key)


def _random_string(inputs: dict) -> str:
    """What random.RandomPassword/RandomString would produce for these inputs."""
    length = int(inputs.get("length", 16))
    pools = []
    if inputs.get("upper", True):
        pools.append((string.ascii_uppercase, int(inputs.get("minUpper", 0))))
    if inputs.get("lower", True):
        pools.append((string.ascii_lowercase, int(inputs.get("minLower", 0))))
    if inputs.get("numeric", inputs.get("number", True)):
        pools.append((string.digits, int(inputs.get("minNumeric", 0))))
    if inputs.get("special", True):
        pools.append((inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?", int(inputs.get("minSpecial", 0))))
    chars = [random.choice(pool) for pool, minimum in pools for _ in range(minimum)]
    alphabet = "".join(pool for pool, _ in pools)
    chars += [random.choice(alphabet) for _ in range(length - len(chars))]
    random.shuffle(chars)
    return "".join(chars)


def _chars(seed: str, alphabet: str, length: int) -> str:
    """Random-looking characters, the same for the same resource in every run: what AWS generated
    once at creation and keeps across updates (so two runs of one config register the same names)."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    return "".join(rng.choice(alphabet) for _ in range(length))


ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


def _hex_id(kind: str, name: str) -> str:
    """An EC2-style id (`vpc-`, `subnet-`, `sg-`, `i-`, `vol-`, ... + 17 hex), stable per resource."""
    return f"{kind}-{hashlib.sha256(f'{kind}/{name}'.encode()).hexdigest()[:17]}"


# The provider completes a name_prefix/bucket_prefix with 26 characters: a UTC timestamp to
# 1/10000 s (18 digits) and an 8-hex counter (terraform-plugin-sdk helper/id PrefixedUniqueId,
# UniqueIDSuffixLength = 26).
PREFIX_SUFFIX_LENGTH = 26
CREATED = datetime(2026, 1, 15, 9, 30, 0, 123400, tzinfo=UTC).strftime("%Y%m%d%H%M%S%f")[:18]
# Pulumi names a resource without a name `<logical name>-<7 hex>` (its default autonaming pattern
# ${name}-${hex(7)}), and fails when that passes the provider's maximum.
AUTONAME_HEX = 7

_LABEL = r"[a-z](-?[a-z0-9])*"  # letter first, no '--', no trailing '-'
_IAM = r"[\w+=,.@-]+"


@dataclass(frozen=True)
class Naming:
    """How AWS names one resource type, and what it refuses."""

    key: str  # the input holding the name
    max_length: int
    pattern: str  # re.fullmatch on the complete name
    source: str
    prefix_key: str | None = None  # the input holding a prefix the provider completes (+26)
    autoname: bool = False  # Pulumi auto-names it when neither is set
    lowercase: bool = False  # the provider lowercases the auto-name
    min_length: int = 1


# AWS's name limits, checked on every registration: a name AWS would refuse fails the run.
NAMING: dict[str, Naming] = {
    "aws:lb/loadBalancer:LoadBalancer": Naming(
        "name", 32, r"(?!internal-)[A-Za-z0-9](-?[A-Za-z0-9])*",
        "terraform-provider-aws elbv2/validate.go validName: 32, alphanumerics and '-', no '-' at either end"),
    "aws:lb/targetGroup:TargetGroup": Naming(
        "name", 32, r"[A-Za-z0-9](-?[A-Za-z0-9])*",
        "terraform-provider-aws elbv2/validate.go validTargetGroupName(Prefix): 32, prefix 32 - 26 = 6",
        prefix_key="namePrefix", autoname=True),
    "aws:elasticache/replicationGroup:ReplicationGroup": Naming(
        "replicationGroupId", 40, _LABEL,
        "ElastiCache CreateReplicationGroup: 1-40 letters, digits or single hyphens, letter first, no trailing '-'"
        " (stored lowercase)"),
    "aws:elasticache/subnetGroup:SubnetGroup": Naming(
        "name", 255, r"[a-z0-9-]+", "ElastiCache CreateCacheSubnetGroup: 255, lowercase"),
    "aws:elasticache/parameterGroup:ParameterGroup": Naming(
        "name", 255, _LABEL, "ElastiCache CreateCacheParameterGroup: 255, letter first, no '--', no trailing '-'"),
    "aws:rds/instance:Instance": Naming(
        "identifier", 63, _LABEL, "RDS CreateDBInstance DBInstanceIdentifier: 1-63, letter first, no '--', no trailing '-'",
        prefix_key="identifierPrefix", autoname=True, lowercase=True),
    "aws:rds/subnetGroup:SubnetGroup": Naming(
        "name", 255, r"[a-z0-9 ._-]+", "RDS CreateDBSubnetGroup: 255, lowercase",
        prefix_key="namePrefix", autoname=True, lowercase=True),
    "aws:rds/parameterGroup:ParameterGroup": Naming(
        "name", 255, _LABEL, "RDS CreateDBParameterGroup: 255, letter first, no '--', no trailing '-'",
        prefix_key="namePrefix", autoname=True, lowercase=True),
    "aws:s3/bucket:Bucket": Naming(
        "bucket", 63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
        "S3 general purpose bucket naming rules: 3-63, lowercase, digits, '.', '-'; bucket_prefix 63 - 26 = 37",
        prefix_key="bucketPrefix", autoname=True, lowercase=True, min_length=3),
    "aws:iam/role:Role": Naming(
        "name", 64, _IAM, "terraform-provider-aws iam/role.go roleNameMaxLen 64, prefix 64 - 26 = 38",
        prefix_key="namePrefix", autoname=True),
    "aws:iam/instanceProfile:InstanceProfile": Naming(
        "name", 128, _IAM, "terraform-provider-aws iam/instance_profile.go 128, prefix 128 - 26 = 102",
        prefix_key="namePrefix", autoname=True),
    "aws:iam/policy:Policy": Naming(
        "name", 128, _IAM, "terraform-provider-aws iam/policy.go policyNameMaxLen 128, prefix 128 - 26 = 102",
        prefix_key="namePrefix", autoname=True),
    "aws:ec2/securityGroup:SecurityGroup": Naming(
        "name", 255, r"[ -~]+", "EC2 CreateSecurityGroup GroupName: 255 ASCII", prefix_key="namePrefix", autoname=True),
    "aws:secretsmanager/secret:Secret": Naming(
        "name", 512, r"[\w/+=.@-]+", "Secrets Manager CreateSecret Name: 512, alphanumerics and /_+=.@-",
        prefix_key="namePrefix", autoname=True),
    "aws:cloudwatch/logGroup:LogGroup": Naming(
        "name", 512, r"[\w/.#-]+", "CloudWatch Logs CreateLogGroup: 512, alphanumerics and _-/.#",
        prefix_key="namePrefix", autoname=True),
    "aws:ecs/cluster:Cluster": Naming(
        "name", 255, r"[A-Za-z0-9_-]+", "ECS CreateCluster: 255 letters, digits, '-', '_'", autoname=True),
    "aws:ecs/service:Service": Naming("name", 255, r"[A-Za-z0-9_-]+", "ECS CreateService: 255 letters, digits, '-', '_'"),
    "aws:ecs/taskDefinition:TaskDefinition": Naming(
        "family", 255, r"[A-Za-z0-9_-]+", "ECS RegisterTaskDefinition family: 255 letters, digits, '-', '_'"),
    "aws:sns/topic:Topic": Naming(
        "name", 256, r"[A-Za-z0-9_-]+", "SNS CreateTopic Name: 1-256 letters, digits, '-', '_'",
        prefix_key="namePrefix", autoname=True),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Naming(
        "name", 255, r"[ -~]+", "CloudWatch PutMetricAlarm AlarmName: 1-255 ASCII", autoname=True),
    "aws:cloudwatch/dashboard:Dashboard": Naming(
        "dashboardName", 255, r"[A-Za-z0-9_-]+", "CloudWatch PutDashboard DashboardName: 255, letters, digits, '-', '_'"),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": Naming(
        "name", 512, r"[^:*]+", "CloudWatch Logs PutMetricFilter filterName: 1-512, no ':' or '*'"),
    "aws:kms/alias:Alias": Naming("name", 256, r"alias/[A-Za-z0-9/_-]+", "KMS CreateAlias: 256, alias/ + [A-Za-z0-9/_-]"),
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": Naming(
        "name", 253, r"[a-z0-9-]+(\.[a-z0-9-]+)+", "Cloud Map CreatePrivateDnsNamespace: a DNS name, 253"),
}


class AwsWouldRefuse(ValueError):
    """A registration whose name AWS (or the provider, before any call) would refuse."""


def _check_name(typ: str, resource: str, key: str, value: str, max_length: int, pattern: str,
                naming: Naming, min_length: int = 1) -> None:
    if not min_length <= len(value) <= max_length or not re.fullmatch(pattern, value):
        raise AwsWouldRefuse(
            f"{typ} {resource!r}: {key} {value!r} ({len(value)} characters) is refused: "
            f"{min_length}-{max_length} characters matching {pattern} ({naming.source})"
        )


# RunInstances: "User data is limited to 16384 bytes" (InvalidParameterValue), counted before the
# base64 encoding the provider applies to `user_data` (its UTF-8 bytes).
EC2_USER_DATA_BYTES = 16384


def _check_user_data(resource: str, user_data: str) -> None:
    size = len(user_data.encode())
    if size > EC2_USER_DATA_BYTES:
        raise AwsWouldRefuse(f"aws:ec2/instance:Instance {resource!r}: user data of {size} bytes is refused "
                             f"(EC2 RunInstances: User data is limited to {EC2_USER_DATA_BYTES} bytes)")


# Canonical's `current` Ubuntu image is, unless a test says otherwise, the image of the default
# pin (config/defaults.py): the state right after an operator moved host.ubuntuSerial to it.
CANONICAL_CURRENT = {UBUNTU_ARM64_AMI.format(serial="current"): ami_id(UBUNTU_ARM64_AMI.format(serial=UBUNTU_SERIAL))}


class RecordingMocks(Mocks):
    def __init__(self, region: str = "us-east-1", azs: int = 3, ssm_parameters: dict[str, str] | None = None):
        self.region = region
        # name -> value; other parameters answer an AMI id derived from their name
        self.ssm_parameters = {**CANONICAL_CURRENT, **(ssm_parameters or {})}
        self.azs = [f"{region}{letter}" for letter in "abcdef"[:azs]]
        self.registrations: list[Registration] = []
        self.generated_secrets: list[str] = []  # every value a random resource produced
        self.calls: list[MockCallArgs] = []
        self.logged: list[tuple[str, str]] = []  # (level, message) the program logged to the engine
        # The registration in progress, per thread (the SDK's own way runs several at once, a thread
        # each): its request (additionalSecretOutputs) and its inputs as MockMonitor deserialized them.
        self._registering = threading.local()
        self._subnets: dict[str, dict] = {}  # subnet id -> its state (getSubnet answers from it)

    def __getstate__(self) -> dict:
        """A finished run travels between workers (tests/support/program.py) without the per-thread state."""
        return {key: value for key, value in vars(self).items() if key != "_registering"}

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state, _registering=threading.local())

    # -- invokes ---------------------------------------------------------------------------
    def _call_results(self) -> dict[str, Callable[[dict], dict]]:
        return {
            "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
                "accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/test", "userId": "AIDAJQABLZS4A3QDU576Q", "id": ACCOUNT_ID,
            },
            "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a: {
                "names": self.azs, "zoneIds": [f"use1-az{i + 1}" for i in range(len(self.azs))], "id": self.region,
            },
            "aws:ssm/getParameter:getParameter": lambda a: {
                "name": a["name"], "value": self.ssm_parameters.get(a["name"], ami_id(a["name"])), "type": "String", "id": a["name"], "arn": f"arn:aws:ssm:{self.region}::parameter{a['name']}",
            },
            "aws:ec2/getSubnet:getSubnet": lambda a: {
                "id": a["id"], "availabilityZone": self._subnets[a["id"]]["availabilityZone"],
                "vpcId": self._subnets[a["id"]]["vpcId"],
            },
        }

    def call(self, args: MockCallArgs):
        self.calls.append(args)
        handler = self._call_results().get(args.token)
        if handler is None:
            raise NotImplementedError(f"unmocked invoke {args.token}({args.args}): add it to RecordingMocks deliberately")
        return handler(args.args)

    # -- resources -------------------------------------------------------------------------
    def new_resource(self, args: MockResourceArgs):
        self._registering.inputs = args.inputs
        inputs = dict(args.inputs)
        name = args.name
        outputs = self._computed(args.typ, name, inputs)
        resource_id = outputs.pop("id", f"{name}-id")
        state = {**inputs, **outputs}
        request = getattr(self._registering, "request", None)
        secret_outputs = set(request.additionalSecretOutputs) if request else set()
        for key in secret_outputs & set(state):
            state[key] = rpc.wrap_rpc_secret(state[key])
        return resource_id, state

    def _generated(self, value: str) -> str:
        self.generated_secrets.append(value)
        return value

    @staticmethod
    def _prefixed_unique_id(prefix: str, seed: str) -> str:
        """prefix + creation time to 1/10000 s + an 8-hex counter (stable per resource, see _chars)."""
        return f"{prefix}{CREATED}{_chars(seed, '0123456789abcdef', 8)}"

    def _aws_name(self, typ: str, resource: str, raw: dict) -> tuple[str, dict]:
        """The name AWS ends up with (given, prefix-completed or auto-named), checked against its
        limits; and the outputs that carry it."""
        naming = NAMING.get(typ)
        if naming is None:
            return resource, {}
        given, prefix = raw.get(naming.key), raw.get(naming.prefix_key) if naming.prefix_key else None
        if given:
            value = given
        elif prefix:
            # The completed name is checked below; the prefix must leave room for the suffix.
            _check_name(typ, resource, naming.prefix_key, prefix, naming.max_length - PREFIX_SUFFIX_LENGTH, r".+", naming)
            value = self._prefixed_unique_id(prefix, f"{typ}/{resource}")
        elif naming.autoname:
            value = f"{resource}-{_chars(f'{typ}/{resource}', '0123456789abcdef', AUTONAME_HEX)}"
            value = value.lower() if naming.lowercase else value
        else:
            raise AwsWouldRefuse(f"{typ} {resource!r}: {naming.key} is required")
        _check_name(typ, resource, naming.key, value, naming.max_length, naming.pattern, naming, naming.min_length)
        return value, {naming.key: value}

    def _computed(self, typ: str, name: str, inputs: dict) -> dict:
        """The outputs AWS would return: real id and ARN shapes, names as AWS completes them."""
        region, account = self.region, ACCOUNT_ID
        raw = unwrap(inputs)
        aws_name, out = self._aws_name(typ, name, raw)
        arn_seed = f"{typ}/{name}"
        if typ == "random:index/randomPassword:RandomPassword":
            value = self._generated(_random_string(raw))
            out = {"result": value, "bcryptHash": "$2a$10$" + _chars(value, ALNUM + "./", 53)}
        elif typ == "random:index/randomString:RandomString":
            # Not a secret: pulumi-random marks only RandomPassword's result secret (a name suffix, here).
            out = {"result": _random_string(raw)}
        elif typ == "random:index/randomId:RandomId":
            data = secrets.token_bytes(int(raw["byteLength"]))
            out = {
                "hex": self._generated(data.hex()),
                "b64Std": self._generated(base64.b64encode(data).decode()),
                "b64Url": self._generated(base64.urlsafe_b64encode(data).decode().rstrip("=")),
                "dec": str(int.from_bytes(data, "big")),
            }
        elif typ == "random:index/randomUuid:RandomUuid":
            out = {"result": self._generated(str(uuid.uuid4()))}
        elif typ == "aws:secretsmanager/secret:Secret":
            # Secrets Manager appends '-' and 6 random characters to the name in the ARN; the id is the ARN.
            arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{aws_name}-{_chars(arn_seed, ALNUM, 6)}"
            out |= {"arn": arn, "id": arn}
        elif typ == "aws:secretsmanager/secretVersion:SecretVersion":
            # A UUID per value, as Secrets Manager makes for each new version; the provider's id is "<secret ARN>|<version>".
            version = str(uuid.UUID(bytes=hashlib.sha256(f"{arn_seed}/{raw.get('secretString')}".encode()).digest()[:16], version=4))
            out = {"versionId": version, "arn": raw.get("secretId"), "id": f"{raw.get('secretId')}|{version}"}
        elif typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            # A versioned bucket answers each new content with a new opaque version id (32 URL-safe
            # characters); the provider's id is the key.
            version = _chars(f"{arn_seed}/{raw.get('content')}", ALNUM + "._", 32)
            out = {"versionId": version, "key": raw.get("key"), "bucket": raw.get("bucket"), "id": raw.get("key"),
                   "etag": hashlib.md5(str(raw.get("content")).encode()).hexdigest()}
        elif typ == "aws:kms/key:Key":
            key_id = str(uuid.UUID(bytes=hashlib.sha256(arn_seed.encode()).digest()[:16], version=4))
            out = {"arn": f"arn:aws:kms:{region}:{account}:key/{key_id}", "keyId": key_id, "id": key_id}
        elif typ == "aws:kms/alias:Alias":
            out |= {"arn": f"arn:aws:kms:{region}:{account}:{aws_name}", "id": aws_name}
        elif typ in _EC2_IDS:
            kind, path = _EC2_IDS[typ]
            resource_id = _hex_id(kind, name)
            out = {"id": resource_id, "arn": f"arn:aws:ec2:{region}:{account}:{path}/{resource_id}"}
            if typ == "aws:ec2/vpc:Vpc":
                out["defaultSecurityGroupId"] = _hex_id("sg", f"{name}-default")
            if typ == "aws:ec2/subnet:Subnet":
                self._subnets[resource_id] = {"availabilityZone": raw.get("availabilityZone"), "vpcId": raw.get("vpcId")}
            if typ == "aws:ec2/eip:Eip":
                out["allocationId"] = resource_id
            if typ == "aws:ec2/securityGroup:SecurityGroup":
                out["name"] = aws_name
        elif typ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile"):
            kind, unique = ("role", "AROA") if typ.endswith("Role") else ("instance-profile", "AIPA")
            out |= {"arn": f"arn:aws:iam::{account}:{kind}/{aws_name}", "name": aws_name, "id": aws_name,
                    "uniqueId": unique + _chars(arn_seed, string.ascii_uppercase + "234567", 17)}
        elif typ == "aws:iam/policy:Policy":
            arn = f"arn:aws:iam::{account}:policy/{aws_name}"
            out |= {"arn": arn, "name": aws_name, "id": arn, "policyId": "ANPA" + _chars(arn_seed, string.ascii_uppercase + "234567", 17)}
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out |= {"arn": f"arn:aws:logs:{region}:{account}:log-group:{aws_name}", "name": aws_name, "id": aws_name}
        elif typ == "aws:rds/instance:Instance":
            host = f"{aws_name}.{_chars(account, LOWER_ALNUM, 12)}.{region}.rds.amazonaws.com"  # one id per account and Region
            resource_id = "db-" + _chars(arn_seed, UPPER_ALNUM, 26)
            out |= {"address": host, "endpoint": f"{host}:5432", "port": 5432, "resourceId": resource_id, "id": resource_id,
                    "arn": f"arn:aws:rds:{region}:{account}:db:{aws_name}"}
        elif typ in ("aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup"):
            kind = "subgrp" if "subnet" in typ else "pg"
            out |= {"name": aws_name, "id": aws_name, "arn": f"arn:aws:rds:{region}:{account}:{kind}:{aws_name}"}
        elif typ == "aws:s3/bucket:Bucket":
            out |= {"bucket": aws_name, "arn": f"arn:aws:s3:::{aws_name}", "id": aws_name,
                    "bucketDomainName": f"{aws_name}.s3.amazonaws.com"}
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            zone = f"{region.split('-')[0]}{region.split('-')[1][0]}{region.split('-')[-1]}"  # us-east-1 -> use1
            host = f"master.{aws_name}.{_chars(account, LOWER_ALNUM, 6)}.{zone}.cache.amazonaws.com"
            # ElastiCache names a group's nodes <group id>-001, -002, ... (DescribeReplicationGroups MemberClusters).
            members = [f"{aws_name}-{i:03d}" for i in range(1, int(raw.get("numCacheClusters") or 1) + 1)]
            out |= {"primaryEndpointAddress": host, "id": aws_name, "memberClusters": members,
                    "arn": f"arn:aws:elasticache:{region}:{account}:replicationgroup:{aws_name}"}
        elif typ in ("aws:elasticache/subnetGroup:SubnetGroup", "aws:elasticache/parameterGroup:ParameterGroup"):
            kind = "subnetgroup" if "subnet" in typ else "parametergroup"
            out |= {"id": aws_name, "arn": f"arn:aws:elasticache:{region}:{account}:{kind}:{aws_name}"}
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            suffix = f"app/{aws_name}/{_chars(arn_seed, '0123456789abcdef', 16)}"
            arn = f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{suffix}"
            # An internal load balancer's name is `internal-<name>-<digits>.<region>.elb.amazonaws.com`.
            scheme = "internal-" if raw.get("internal") else ""
            out |= {"dnsName": f"{scheme}{aws_name}-{_chars(arn_seed, string.digits, 10)}.{region}.elb.amazonaws.com",
                    "zoneId": "Z35SXDOTRQ7X7K", "arn": arn, "arnSuffix": suffix, "id": arn}
        elif typ == "aws:lb/targetGroup:TargetGroup":
            suffix = f"targetgroup/{aws_name}/{_chars(arn_seed, '0123456789abcdef', 16)}"
            arn = f"arn:aws:elasticloadbalancing:{region}:{account}:{suffix}"
            out |= {"arn": arn, "arnSuffix": suffix, "id": arn, "name": aws_name}
        elif typ == "aws:acm/certificate:Certificate":
            domain = raw.get("domainName", "example.com")
            domains = [domain, *(raw.get("subjectAlternativeNames") or [])]
            arn = f"arn:aws:acm:{region}:{account}:certificate/{uuid.UUID(bytes=hashlib.sha256(arn_seed.encode()).digest()[:16], version=4)}"
            out = {
                "arn": arn, "id": arn,
                "domainValidationOptions": [
                    {"domainName": d, "resourceRecordName": f"_{_chars(d, '0123456789abcdef', 32)}.{d}.", "resourceRecordType": "CNAME",
                     "resourceRecordValue": f"_{_chars(d + '/value', '0123456789abcdef', 32)}.{_chars(d, string.ascii_lowercase, 10)}.acm-validations.aws."}
                    for d in domains
                ],
            }
        elif typ == "aws:ec2/instance:Instance":
            _check_user_data(name, raw.get("userData") or "")
            instance = _hex_id("i", name)
            out = {"privateIp": "10.40.1.10", "privateDns": f"ip-10-40-1-10.{region}.compute.internal",
                   "arn": f"arn:aws:ec2:{region}:{account}:instance/{instance}", "id": instance}
        elif typ == "aws:ebs/volume:Volume":
            volume = _hex_id("vol", name)
            out = {"id": volume, "arn": f"arn:aws:ec2:{region}:{account}:volume/{volume}"}
        elif typ == "aws:ecs/cluster:Cluster":
            arn = f"arn:aws:ecs:{region}:{account}:cluster/{aws_name}"
            out |= {"arn": arn, "name": aws_name, "id": arn}
        elif typ == "aws:ecs/taskDefinition:TaskDefinition":
            if "FARGATE" in (raw.get("requiresCompatibilities") or []) and not is_fargate_size(
                    int(raw.get("cpu") or 0), int(raw.get("memory") or 0)):
                raise AwsWouldRefuse(f"{typ} {name!r}: cpu {raw.get('cpu')} with memory {raw.get('memory')} is refused: "
                                     "No Fargate configuration exists for given values (ECS RegisterTaskDefinition)")
            out = {"arn": f"arn:aws:ecs:{region}:{account}:task-definition/{aws_name}:1", "revision": 1, "id": aws_name}
        elif typ == "aws:ecs/service:Service":
            cluster = str(raw.get("cluster", "")).rsplit("/", 1)[-1]
            arn = f"arn:aws:ecs:{region}:{account}:service/{cluster}/{aws_name}"
            out |= {"arn": arn, "id": arn}
        elif typ == "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace":
            namespace = "ns-" + _chars(arn_seed, LOWER_ALNUM, 16)
            out = {"arn": f"arn:aws:servicediscovery:{region}:{account}:namespace/{namespace}", "id": namespace,
                   "hostedZone": "Z" + _chars(arn_seed, UPPER_ALNUM, 20)}
        elif typ == "aws:servicediscovery/service:Service":
            service = "srv-" + _chars(arn_seed, LOWER_ALNUM, 16)
            out = {"arn": f"arn:aws:servicediscovery:{region}:{account}:service/{service}", "id": service}
        elif typ == "aws:route53/zone:Zone":
            zone = "Z" + _chars(arn_seed, UPPER_ALNUM, 20)
            out |= {"zoneId": zone, "id": zone, "arn": f"arn:aws:route53:::hostedzone/{zone}"}
        elif typ == "aws:route53/record:Record":
            # The provider's id is <zone>_<name>_<type>; the fqdn is the name without the final dot.
            out |= {"id": f"{raw.get('zoneId')}_{raw.get('name')}_{raw.get('type')}", "fqdn": str(raw.get("name")).rstrip(".")}
        elif typ == "aws:dlm/lifecyclePolicy:LifecyclePolicy":
            policy = _hex_id("policy", name)
            out |= {"id": policy, "arn": f"arn:aws:dlm:{region}:{account}:policy/{policy}"}
        elif typ == "aws:sns/topic:Topic":
            out |= {"arn": f"arn:aws:sns:{region}:{account}:{aws_name}", "id": f"arn:aws:sns:{region}:{account}:{aws_name}"}
        elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            out |= {"arn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{aws_name}", "id": aws_name}
        elif typ == "aws:cloudwatch/dashboard:Dashboard":
            out |= {"dashboardArn": f"arn:aws:cloudwatch::{account}:dashboard/{aws_name}", "id": aws_name}
        elif typ in ("docker:index/container:Container", "docker:index/network:Network"):
            # Docker's ids are 64 hex (terraform-provider-docker resource_docker_container_funcs.go,
            # resource_docker_network_funcs.go: the daemon's id); the names are the ones given.
            out = {"id": _docker_id(f"{typ}/{raw.get('name')}")}
            if typ.endswith("Container"):
                for volume in raw.get("volumes") or []:
                    if volume.get("hostPath") and not re.match(r"^[a-zA-Z]:[\\/]|^/", volume["hostPath"]):
                        raise AwsWouldRefuse(f"{typ} {name!r}: host_path {volume['hostPath']!r} must be an absolute "
                                             "path (terraform-provider-docker internal/provider/validators.go "
                                             "validateDockerContainerPath)")
                out["networkDatas"] = [{"networkName": network["name"], "ipAddress": "172.18.0.2"}
                                       for network in raw.get("networksAdvanced") or []]
        elif typ == "docker:index/volume:Volume":
            # A volume's id is its name (resource_docker_volume.go).
            out = {"id": raw["name"], "mountpoint": f"/var/lib/docker/volumes/{raw['name']}/_data"}
        elif typ == "pulumi-python:dynamic:Resource" and "container_prefix" in raw:
            # components/docker_job.py: the id is the first run's last container id (Docker's 64 hex).
            container = _docker_id(f"{name}/{raw.get('job')}")
            out = {"id": container, "last_container_id": container}
        elif typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            out |= {"arn": f"arn:aws:{service}:{region}:{account}:{name}"}
        return out


def _docker_id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


# EC2 resources: id prefix and ARN path (ids are the prefix + 17 hex).
_EC2_IDS: dict[str, tuple[str, str]] = {
    "aws:ec2/vpc:Vpc": ("vpc", "vpc"),
    "aws:ec2/subnet:Subnet": ("subnet", "subnet"),
    "aws:ec2/securityGroup:SecurityGroup": ("sg", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("sg", "security-group"),
    "aws:ec2/internetGateway:InternetGateway": ("igw", "internet-gateway"),
    "aws:ec2/natGateway:NatGateway": ("nat", "natgateway"),
    "aws:ec2/routeTable:RouteTable": ("rtb", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("rtbassoc", "route-table-association"),
    "aws:ec2/eip:Eip": ("eipalloc", "elastic-ip"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpce", "vpc-endpoint"),
    "aws:ec2/flowLog:FlowLog": ("fl", "vpc-flow-log"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr", "security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr", "security-group-rule"),
}


class RecordingMonitor(MockMonitor):
    """Keeps what the engine would see of every registration (options, raw secret inputs)."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request):
        self.recording._registering.request = request
        try:
            response = super().RegisterResource(request)
        finally:
            self.recording._registering.request = None
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.recording.registrations.append(Registration(
                typ=request.type,
                name=request.name,
                id=response.id,
                inputs=self.recording._registering.inputs,
                outputs=dict(registration.state),
                urn=response.urn,
                custom=request.custom,
                protect=request.protect,
                parent=request.parent,
                retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
                ignore_changes=list(request.ignoreChanges),
                create_timeout=request.customTimeouts.create,
                dependencies=list(request.dependencies),
                property_dependencies={
                    key: list(deps.urns) for key, deps in request.propertyDependencies.items() if len(deps.urns)
                },
                sent=request.object.SerializeToString(),
            ))
        return response


@dataclass
class ProgramRun:
    mocks: RecordingMocks
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    @property
    def resources(self) -> list[Registration]:
        return self.mocks.registrations

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str, typ: str | None = None) -> Registration:
        found = [r for r in self.resources if r.name == name and (typ is None or r.typ == typ)]
        assert len(found) == 1, f"expected one resource named {name!r}, found {[r.typ for r in found]}"
        return found[0]

    def waits_for(self, registration: Registration) -> set[str]:
        """Every URN `registration` is created after: its dependencies, theirs, and so on."""
        by_urn = {r.urn: r for r in self.resources}
        seen, frontier = set(), list(registration.dependencies)
        while frontier:
            urn = frontier.pop()
            if urn not in seen:
                seen.add(urn)
                frontier.extend(by_urn[urn].dependencies if urn in by_urn else ())
        return seen

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]

    def subnet_ids(self, tier: str) -> set[str]:
        """The ids AWS gave the network's `public` or `private` subnets."""
        return {r.id for r in self.of_type("aws:ec2/subnet:Subnet") if r.name.startswith(f"network-{tier}-")}

    def security_group_id(self, role: str) -> str:
        return self.named(f"security-groups-{role}", "aws:ec2/securityGroup:SecurityGroup").id


def run_pulumi(
    build: Callable[[], Any],
    *,
    stack: str = "stg",
    config: dict[str, str] | None = None,
    secret_keys: set[str] | None = None,
    region: str = "us-east-1",
    project: str = "llm-gateway",
    mocks: RecordingMocks | None = None,
) -> ProgramRun:
    """Run `build` (a component factory or the whole program) under recording mocks.

    Waits for every output; an exception in the program or in an apply fails the call.
    """
    mocks = mocks or RecordingMocks(region=region)
    # A fresh root stack per run: set_mocks keeps an existing one, and with it earlier exports.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, monitor=RecordingMonitor(mocks), logger=_engine_log(mocks),
    )
    pulumi.runtime.set_all_config(config or {}, sorted(secret_keys or ()))
    run = ProgramRun(mocks)

    def program():
        build()
        stack_outputs = pulumi.runtime.get_root_resource().outputs
        names = sorted(stack_outputs)
        values = [pulumi.Output.from_input(stack_outputs[n]) for n in names]

        flags = [pulumi.Output.from_input(v.is_secret()) for v in values]

        def collect(resolved):
            run.outputs.update(zip(names, resolved[: len(names)], strict=True))
            run.secret_outputs.update(n for n, flag in zip(names, resolved[len(names):], strict=True) if flag)

        return pulumi.Output.all(*values, *flags).apply(collect)

    # A run leaves about 100,000 objects in reference cycles (resources, outputs, futures; ~12 MB).
    # The cyclic collector scanning them, mid-run and after, took half of a run's time; a test
    # process holds a few dozen runs, so they are kept instead (moved out of the collector's sight).
    collecting = gc.isenabled()
    gc.disable()
    try:
        # The SDK takes a stack trace per registration for the engine's diagnostics (source
        # positions); with no engine to show them that is a fifth of a run. patch.object fails
        # loudly if an SDK upgrade renames the function.
        with (mock.patch.object(sdk_resource, "_get_stack_trace", source_pb2.StackTrace),
              _monitor_calls_in_the_calling_task()):
            pulumi.runtime.test(program)()
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    return run


@contextmanager
def _monitor_calls_in_the_calling_task():
    """The SDK hands each call to the monitor (RegisterResource, Invoke, ...) to a thread of the
    loop's default executor (`run_in_executor(None, ...)` in pulumi/runtime/resource.py and
    invoke.py): a blocking gRPC call to the engine. The mock monitor answers at once, so here it
    answers in the calling task instead, on a loop of its own as an executor thread has (MockMonitor
    runs `_sync_await` on the current thread's loop), and the answer reaches the awaiting task on the
    loop's next turn, as from a thread. Handing 700 calls a run to threads and back cost a tenth to a fifth of
    a run's CPU (tests/unit/test_program.py holds the two ways to the same registrations, inputs
    and outputs)."""
    loop = _ensure_event_loop()  # the thread's loop, the one the SDK runs on
    own_loop = asyncio.new_event_loop()

    def run_in_executor(_executor, call, *args):
        answer = loop.create_future()
        running = asyncio._get_running_loop()
        asyncio._set_running_loop(None)
        asyncio.set_event_loop(own_loop)
        try:
            value = call(*args)
        except BaseException as error:  # noqa: BLE001 (an executor hands every exception to the awaiting task too)
            loop.call_soon(_settle, answer, error, None)
        else:
            loop.call_soon(_settle, answer, None, value)
        finally:
            asyncio.set_event_loop(loop)
            asyncio._set_running_loop(running)
        return answer

    try:
        with mock.patch.object(loop, "run_in_executor", run_in_executor):
            yield
    finally:
        own_loop.close()


def _settle(answer: asyncio.Future, error: BaseException | None, value: Any) -> None:
    """As asyncio settles an executor's answer: not once the awaiting task has given up on it."""
    if answer.cancelled():
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(value)


class _Recorder(logging.Handler):
    def __init__(self, mocks: RecordingMocks):
        super().__init__()
        self.mocks = mocks

    def emit(self, record: logging.LogRecord) -> None:
        self.mocks.logged.append((record.levelname.lower(), record.getMessage()))


def _engine_log(mocks: RecordingMocks) -> logging.Logger:
    """What the program logs to the engine (pulumi.log.*) is kept on the mocks, not printed."""
    logger = logging.getLogger("pulumi-engine")  # one run at a time: its handler is this run's
    logger.propagate = False
    logger.setLevel(logging.INFO)  # the SDK's own debug chatter is not the program's
    logger.handlers = [_Recorder(mocks)]
    return logger


def run_program(stack: str, config: dict[str, str], secret_keys: set[str] | None = None,
                mocks: RecordingMocks | None = None) -> ProgramRun:
    """The whole program (`__main__.py`) for `stack`, as `pulumi up` would run it."""
    region = config.get("aws:region", "us-east-1")
    return run_pulumi(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
        stack=stack, config=config, secret_keys=secret_keys, region=region, mocks=mocks,
    )


def json_input(registration: Registration, key: str) -> Any:
    """Parse an input that the program passes as JSON text (policies, container definitions)."""
    value = registration.input(key)
    return json.loads(value) if isinstance(value, str) else value


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
