"""Recording Pulumi mocks: run a component or the whole program, keep every registration.

- Every resource registration is kept with its inputs (camelCase, secrets still wrapped) and
  the resource options the engine would see (protect, parent, aliases, ...).
- Outputs a real provider computes are computed here (ids, ARNs, endpoints, random values that
  honour their inputs); outputs the provider marks secret come back secret, as from the engine.
- `call` answers the invokes the program is known to make and raises on any other, so a new
  data-source lookup cannot slip in unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import re
import runpy
import secrets
import string
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

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
    aliases: list
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list
    create_timeout: str  # customTimeouts.create, "" when the provider's default applies
    dependencies: list
    property_dependencies: dict  # input name -> URNs it depends on (what stack policies see)

    def input(self, key: str, default: Any = None) -> Any:
        return unwrap(self.inputs.get(key, default))


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


class RecordingMocks(Mocks):
    def __init__(self, region: str = "us-east-1", azs: int = 3, ssm_parameters: dict[str, str] | None = None):
        self.region = region
        self.ssm_parameters = ssm_parameters or {}  # name -> value, e.g. a newer `current` image
        self.azs = [f"{region}{letter}" for letter in "abcdef"[:azs]]
        self.registrations: list[Registration] = []
        self.generated_secrets: list[str] = []  # every value a random resource produced
        self.calls: list[MockCallArgs] = []
        self.logged: list[tuple[str, str]] = []  # (level, message) the program logged to the engine
        self._request = None

    # -- invokes ---------------------------------------------------------------------------
    def _call_results(self) -> dict[str, Callable[[dict], dict]]:
        return {
            "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
                "accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/test", "userId": "AIDTEST", "id": ACCOUNT_ID,
            },
            "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a: {
                "names": self.azs, "zoneIds": [f"use1-az{i + 1}" for i in range(len(self.azs))], "id": self.region,
            },
            "aws:ssm/getParameter:getParameter": lambda a: {
                "name": a["name"], "value": self.ssm_parameters.get(a["name"], ami_id(a["name"])), "type": "String", "id": a["name"], "arn": f"arn:aws:ssm:{self.region}::parameter{a['name']}",
            },
            "aws:ec2/getSubnet:getSubnet": lambda a: {
                "id": a["id"], "availabilityZone": self.azs[int(a["id"].rsplit("-", 1)[-1]) % len(self.azs)],
                "vpcId": "vpc-network-vpc",
            },
            "aws:elb/getServiceAccount:getServiceAccount": lambda a: {
                "id": "127311923021", "arn": "arn:aws:iam::127311923021:root",
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
        inputs = dict(args.inputs)
        name = args.name
        outputs = self._computed(args.typ, name, inputs)
        resource_id = outputs.pop("id", f"{name}-id")
        state = {**inputs, **outputs}
        secret_outputs = set(self._request.additionalSecretOutputs) if self._request else set()
        for key in secret_outputs & set(state):
            state[key] = rpc.wrap_rpc_secret(state[key])
        return resource_id, state

    def _generated(self, value: str) -> str:
        self.generated_secrets.append(value)
        return value

    def _computed(self, typ: str, name: str, inputs: dict) -> dict:
        region, account = self.region, ACCOUNT_ID
        raw = unwrap(inputs)
        # AWS completes a name_prefix with a unique suffix.
        arn_name = raw.get("name") or (raw["namePrefix"] + "20261124" if raw.get("namePrefix") else name)
        out: dict[str, Any] = {}
        if typ == "random:index/randomPassword:RandomPassword":
            value = self._generated(_random_string(raw))
            out = {"result": value, "bcryptHash": "$2a$10$" + "x" * 53}
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
            out = {"arn": f"arn:aws:secretsmanager:{region}:{account}:secret:{arn_name}-AbCdEf"}
        elif typ == "aws:secretsmanager/secretVersion:SecretVersion":
            out = {"versionId": f"{name}-version", "arn": raw.get("secretId")}
        elif typ == "aws:kms/key:Key":
            out = {"arn": f"arn:aws:kms:{region}:{account}:key/{uuid.uuid5(uuid.NAMESPACE_DNS, name)}", "keyId": str(uuid.uuid5(uuid.NAMESPACE_DNS, name))}
        elif typ == "aws:ec2/vpc:Vpc":
            out = {"id": f"vpc-{name}", "arn": f"arn:aws:ec2:{region}:{account}:vpc/vpc-{name}", "defaultSecurityGroupId": f"sg-default-{name}"}
        elif typ == "aws:ec2/subnet:Subnet":
            out = {"id": f"subnet-{name}", "arn": f"arn:aws:ec2:{region}:{account}:subnet/subnet-{name}"}
        elif typ == "aws:ec2/securityGroup:SecurityGroup":
            out = {"id": f"sg-{name}", "arn": f"arn:aws:ec2:{region}:{account}:security-group/sg-{name}"}
        elif typ == "aws:iam/role:Role":
            out = {"arn": f"arn:aws:iam::{account}:role/{arn_name}", "name": arn_name}
        elif typ == "aws:iam/policy:Policy":
            out = {"arn": f"arn:aws:iam::{account}:policy/{arn_name}"}
        elif typ == "aws:iam/instanceProfile:InstanceProfile":
            out = {"arn": f"arn:aws:iam::{account}:instance-profile/{arn_name}", "name": arn_name}
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out = {"arn": f"arn:aws:logs:{region}:{account}:log-group:{arn_name}"}
        elif typ == "aws:rds/instance:Instance":
            host = f"{raw.get('identifier', name)}.abcdefghijkl.{region}.rds.amazonaws.com"
            out = {"address": host, "endpoint": f"{host}:5432", "port": 5432, "arn": f"arn:aws:rds:{region}:{account}:db:{raw.get('identifier', name)}"}
        elif typ == "aws:s3/bucket:Bucket":
            bucket = raw.get("bucket") or f"{name}-bucket"
            out = {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            out = {"primaryEndpointAddress": f"master.{name}.abc123.use1.cache.amazonaws.com", "arn": f"arn:aws:elasticache:{region}:{account}:replicationgroup:{name}"}
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            out = {"dnsName": f"{name}-123456.{region}.elb.amazonaws.com", "zoneId": "Z35SXDOTRQ7X7K", "arn": f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{name}/abc", "arnSuffix": f"app/{name}/abc"}
        elif typ == "aws:lb/targetGroup:TargetGroup":
            out = {"arn": f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/abc", "arnSuffix": f"targetgroup/{name}/abc"}
        elif typ == "aws:acm/certificate:Certificate":
            domain = raw.get("domainName", "example.com")
            names = [domain, *(raw.get("subjectAlternativeNames") or [])]
            out = {
                "arn": f"arn:aws:acm:{region}:{account}:certificate/{name}",
                "domainValidationOptions": [
                    {"domainName": d, "resourceRecordName": f"_x.{d}.", "resourceRecordType": "CNAME", "resourceRecordValue": f"_y.{d}.acm-validations.aws."}
                    for d in names
                ],
            }
        elif typ == "aws:ec2/instance:Instance":
            out = {"privateIp": "10.40.1.10", "privateDns": f"ip-10-40-1-10.{region}.compute.internal", "arn": f"arn:aws:ec2:{region}:{account}:instance/i-{name}", "id": f"i-{name}"}
        elif typ == "aws:ebs/volume:Volume":
            volume = "vol-" + hashlib.sha256(name.encode()).hexdigest()[:17]
            out = {"id": volume, "arn": f"arn:aws:ec2:{region}:{account}:volume/{volume}"}
        elif typ == "aws:ecs/cluster:Cluster":
            out = {"arn": f"arn:aws:ecs:{region}:{account}:cluster/{arn_name}", "name": arn_name}
        elif typ == "aws:ecs/taskDefinition:TaskDefinition":
            out = {"arn": f"arn:aws:ecs:{region}:{account}:task-definition/{raw.get('family', name)}:1", "revision": 1}
        elif typ == "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace":
            out = {"arn": f"arn:aws:servicediscovery:{region}:{account}:namespace/ns-{name}", "id": f"ns-{name}", "hostedZone": "Z0NAMESPACE"}
        elif typ == "aws:servicediscovery/service:Service":
            out = {"arn": f"arn:aws:servicediscovery:{region}:{account}:service/srv-{name}", "id": f"srv-{name}"}
        elif typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            out = {"arn": f"arn:aws:{service}:{region}:{account}:{name}"}
        return out


class RecordingMonitor(MockMonitor):
    """Keeps what the engine would see of every registration (options, raw secret inputs)."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request):
        self.recording._request = request
        try:
            response = super().RegisterResource(request)
        finally:
            self.recording._request = None
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.recording.registrations.append(Registration(
                typ=request.type,
                name=request.name,
                id=response.id,
                inputs=rpc.deserialize_properties(request.object),
                outputs=dict(registration.state),
                urn=response.urn,
                custom=request.custom,
                protect=request.protect,
                parent=request.parent,
                aliases=list(request.aliases) + list(request.aliasURNs),
                retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
                ignore_changes=list(request.ignoreChanges),
                create_timeout=request.customTimeouts.create,
                dependencies=list(request.dependencies),
                property_dependencies={
                    key: list(deps.urns) for key, deps in request.propertyDependencies.items() if len(deps.urns)
                },
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

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]


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

    pulumi.runtime.test(program)()
    return run


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
    logger.setLevel(logging.DEBUG)
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
