"""Resource rules of the llm-gateway policy pack: pure functions over plain data.

Every check has the signature `check(resource_type, props, ctx) -> list[str]`: `props` are the
resource's input properties in the engine's camelCase shape (what `ResourceValidationArgs.props`
carries, turned into plain dicts and lists by `plain`), `ctx` the pack's `Context`. A check returns
one message per violation and never echoes a secret value. `pack.py` wraps the checks into
`ResourceValidationPolicy` objects; the tests call both.

Values not known yet (a `pulumi preview` of resources whose inputs depend on outputs) stay the
SDK's unknown sentinels; a check that needs one raises `Unknown`, which the pack turns into the
SDK's own "can't run policy during preview" diagnostic. `pulumi up` analyzes the resolved inputs.
"""

from __future__ import annotations

import base64
import binascii
import email
import gzip
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

try:  # the SDK's unknown sentinels; plain strings so the rules stay importable without it
    from pulumi_policy.proxy import (
        UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE,
    )
except ImportError:  # pragma: no cover
    UNKNOWN_BOOLEAN_VALUE = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
    UNKNOWN_NUMBER_VALUE = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
    UNKNOWN_STRING_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    UNKNOWN_ARRAY_VALUE = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
    UNKNOWN_ASSET_VALUE = "030794c1-ac77-496b-92df-f27374a8bd58"
    UNKNOWN_ARCHIVE_VALUE = "e48ece36-62e2-4504-bad9-02848725956a"
    UNKNOWN_OBJECT_VALUE = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is pinned in policy/requirements.txt
    yaml = None

UNKNOWNS = frozenset({
    UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE, UNKNOWN_ARCHIVE_VALUE, UNKNOWN_OBJECT_VALUE,
})

# Resource type tokens, as the engine passes them.
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECS_SERVICE = "aws:ecs/service:Service"
ECS_CLUSTER = "aws:ecs/cluster:Cluster"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EBS_VOLUME = "aws:ebs/volume:Volume"
SUBNET = "aws:ec2/subnet:Subnet"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
IAM_USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
IAM_GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"
KMS_KEY = "aws:kms/key:Key"
ELASTICACHE_REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")

PROD = "prod"


# --- plain data and unknown values ---------------------------------------------------------------

class Unknown(Exception):
    """A value a check needs is not known yet (preview)."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWNS


def _target(value: Any) -> Any:
    """The raw container behind the SDK's unknown-checking proxies (what its serializer reads)."""
    try:
        return value["__target"]
    except (KeyError, TypeError, IndexError):
        return value


def plain(value: Any) -> Any:
    """Policy SDK props (proxies, secrets) as plain dicts/lists; unknowns stay sentinels."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if type(value).__name__ == "Secret" and hasattr(value, "value"):  # pulumi_policy.Secret
        return plain(value.value)
    if isinstance(value, Mapping):
        raw = _target(value)
        return {key: plain(raw[key]) for key in raw}
    if isinstance(value, Sequence):
        raw = _target(value)
        return [plain(item) for item in raw]
    return value


def known(value: Any, path: str) -> Any:
    """`value`, or Unknown(path) when it is not known yet (preview). Shallow: an object with an
    unknown field is known; read that field with `known` again if the check depends on it."""
    if is_unknown(value):
        raise Unknown(path)
    return value


def is_set(value: Any) -> bool:
    """A non-empty value, or one that will be computed (an unknown id/ARN is set, just not yet known)."""
    return is_unknown(value) or bool(value)


def contains_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return is_unknown(value)


def strings_in(value: Any) -> Iterator[str]:
    """Every known string leaf of a nested value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, str) and not is_unknown(value):
        yield value


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def json_document(value: Any, path: str) -> Any:
    """A JSON document passed as text (IAM policies, container definitions); dicts pass through."""
    known(value, path)
    if isinstance(value, str):
        return json.loads(value)
    return value


def short_type(resource_type: str) -> str:
    """`aws:rds/instance:Instance` -> `aws:rds/Instance` (for messages)."""
    package, _, rest = resource_type.partition(":")
    module, _, name = rest.partition(":")
    return f"{package}:{module.split('/')[0]}/{name}" if name else resource_type


# --- context ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """What a check knows beyond the resource: the stack's environment and the policy's config."""

    environment: str = ""
    # Ports the load balancer's group may open to 0.0.0.0/0 (policy config `publicPorts`).
    public_ports: tuple[int, ...] = (80, 443)
    # Environment variable names that look secret but are not (policy config `allowedEnvNames`).
    allowed_env_names: frozenset[str] = field(default_factory=frozenset)
    # The gateway is meant to face the whole internet (policy config `publicLoadBalancer`): what lets
    # prod open an internet-facing load balancer to 0.0.0.0/0.
    public_load_balancer: bool = False

    @property
    def prod(self) -> bool:
        return self.environment == PROD

    @classmethod
    def from_config(cls, config: Mapping[str, Any], environment: str, public_load_balancer: bool = False) -> Context:
        ports = config.get("publicPorts")
        names = config.get("allowedEnvNames")
        return cls(
            environment=environment,
            public_ports=tuple(int(p) for p in ports) if ports else cls.public_ports,
            allowed_env_names=frozenset(str(n).upper() for n in names) if names else frozenset(),
            public_load_balancer=public_load_balancer,
        )


Check = Callable[[str, dict, Context], list[str]]


# --- RDS ----------------------------------------------------------------------------------------

def rds_not_public_and_encrypted(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    if typ in (RDS_INSTANCE, RDS_CLUSTER_INSTANCE):
        public = known(props.get("publiclyAccessible", False), "publiclyAccessible")
        if public is True:
            messages.append("publiclyAccessible is true: the database must only be reachable inside the VPC")
    if typ in (RDS_INSTANCE, RDS_CLUSTER):
        # A read replica inherits its source's encryption and may not set the flag itself.
        replica = props.get("replicateSourceDb") or props.get("replicationSourceIdentifier")
        encrypted = known(props.get("storageEncrypted", False), "storageEncrypted")
        if encrypted is not True and not replica:
            messages.append("storageEncrypted is not true: database storage must be encrypted at rest")
    return messages


POSTGRES_LOGS = "postgresql"


def rds_hardening(typ: str, props: dict, ctx: Context) -> list[str]:
    """CMK, logs, IAM auth, enhanced monitoring, minor upgrades, backups, TLS-only parameter group."""
    messages = []
    if typ == RDS_PARAMETER_GROUP:
        family = str(known(props.get("family", ""), "family"))
        if family.startswith("postgres"):
            parameters = {
                str(p.get("name")): str(p.get("value"))
                for p in as_list(known(props.get("parameters"), "parameters")) if isinstance(p, dict)
            }
            if parameters.get("rds.force_ssl") != "1":
                messages.append("PostgreSQL parameter group does not set rds.force_ssl=1: clients could connect without TLS")
        return messages
    if not is_set(props.get("kmsKeyId")):
        messages.append("no kmsKeyId: encrypt the database with the stack's customer-managed key, not the AWS-managed one")
    engine = str(known(props.get("engine", ""), "engine"))
    exports = [str(e) for e in as_list(known(props.get("enabledCloudwatchLogsExports"), "enabledCloudwatchLogsExports"))]
    if not exports:
        messages.append("enabledCloudwatchLogsExports is empty: database logs must reach CloudWatch")
    elif engine.startswith("postgres") and POSTGRES_LOGS not in exports:
        messages.append("enabledCloudwatchLogsExports lacks 'postgresql': database logs must reach CloudWatch")
    if known(props.get("iamDatabaseAuthenticationEnabled"), "iamDatabaseAuthenticationEnabled") is not True:
        messages.append("iamDatabaseAuthenticationEnabled is not true")
    interval = known(props.get("monitoringInterval", 0), "monitoringInterval") or 0
    if float(interval) <= 0 or not is_set(props.get("monitoringRoleArn")):
        messages.append("enhanced monitoring is off (monitoringInterval > 0 and monitoringRoleArn required)")
    if known(props.get("autoMinorVersionUpgrade", True), "autoMinorVersionUpgrade") is False:
        messages.append("autoMinorVersionUpgrade is false: security patches would not be applied")
    if known(props.get("copyTagsToSnapshot"), "copyTagsToSnapshot") is not True:
        messages.append("copyTagsToSnapshot is not true")
    retention = known(props.get("backupRetentionPeriod", 0), "backupRetentionPeriod") or 0
    if float(retention) < 7:
        messages.append(f"backupRetentionPeriod is {int(float(retention))}: keep automated backups for at least 7 days")
    if known(props.get("performanceInsightsEnabled"), "performanceInsightsEnabled") is True and not is_set(
        props.get("performanceInsightsKmsKeyId")
    ):
        messages.append("Performance Insights is on without performanceInsightsKmsKeyId (customer-managed key)")
    return messages


# --- security groups ----------------------------------------------------------------------------

def is_world(cidr: Any) -> bool:
    """0.0.0.0/0, ::/0 and any other spelling of 'every address'."""
    if not isinstance(cidr, str) or is_unknown(cidr):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


@dataclass(frozen=True)
class WorldIngress:
    """One ingress permission open to the whole internet."""

    cidr: str
    protocol: str
    from_port: int | None
    to_port: int | None

    @property
    def ports(self) -> str:
        if self.all_traffic:
            return "all ports"
        if self.from_port == self.to_port:
            return f"{self.protocol}/{self.from_port}"
        return f"{self.protocol}/{self.from_port}-{self.to_port}"

    @property
    def all_traffic(self) -> bool:
        return self.protocol in ("-1", "all") or self.from_port is None

    def only_ports(self, allowed: Iterable[int]) -> bool:
        """True when this is TCP on exactly one of `allowed`."""
        return (not self.all_traffic and self.protocol in ("tcp", "6")
                and self.from_port == self.to_port and self.from_port in set(allowed))


def _port(value: Any, path: str) -> int | None:
    value = known(value, path)
    return None if value is None else int(float(value))


def world_ingress(typ: str, props: dict) -> list[WorldIngress]:
    """Every ingress permission of this resource open to 0.0.0.0/0 or ::/0."""
    found = []
    if typ in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        for i, rule in enumerate(as_list(known(props.get("ingress"), "ingress"))):
            cidrs = as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks"))
            if contains_unknown(cidrs):
                raise Unknown(f"ingress[{i}].cidrBlocks")
            protocol = str(known(rule.get("protocol", "-1"), f"ingress[{i}].protocol")).lower()
            for cidr in filter(is_world, cidrs):
                found.append(WorldIngress(cidr, protocol, _port(rule.get("fromPort"), f"ingress[{i}].fromPort"),
                                          _port(rule.get("toPort"), f"ingress[{i}].toPort")))
    elif typ == INGRESS_RULE:
        protocol = str(known(props.get("ipProtocol", "-1"), "ipProtocol")).lower()
        for key in ("cidrIpv4", "cidrIpv6"):
            cidr = known(props.get(key), key)
            if is_world(cidr):
                found.append(WorldIngress(cidr, protocol, _port(props.get("fromPort"), "fromPort"),
                                          _port(props.get("toPort"), "toPort")))
    elif typ == SECURITY_GROUP_RULE:
        if known(props.get("type"), "type") == "ingress":
            protocol = str(known(props.get("protocol", "-1"), "protocol")).lower()
            cidrs = as_list(known(props.get("cidrBlocks"), "cidrBlocks")) + as_list(
                known(props.get("ipv6CidrBlocks"), "ipv6CidrBlocks"))
            if contains_unknown(cidrs):
                raise Unknown("cidrBlocks")
            for cidr in filter(is_world, cidrs):
                found.append(WorldIngress(cidr, protocol, _port(props.get("fromPort"), "fromPort"),
                                          _port(props.get("toPort"), "toPort")))
    return found


def security_group_world_ingress_ports(typ: str, props: dict, ctx: Context) -> list[str]:
    """The internet may reach only TCP on the public ports; which group may is the stack rule's job."""
    ports = "/".join(str(p) for p in ctx.public_ports)
    return [
        f"ingress from {rule.cidr} on {rule.ports}: only TCP {ports} may be open to the internet "
        "(and only on the load balancer's security group)"
        for rule in world_ingress(typ, props)
        if not rule.only_ports(ctx.public_ports)
    ]


# --- secrets in plain text ----------------------------------------------------------------------

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SECRET_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("a LiteLLM master/virtual key (sk- + hex)", re.compile(r"(?<![A-Za-z0-9])sk-[0-9a-f]{32,}", re.I)),
    ("a Langfuse API key (pk-lf-/sk-lf- + uuid)", re.compile(rf"(?<![A-Za-z0-9])[ps]k-lf-{_UUID}", re.I)),
    ("an OpenAI/Anthropic-style API key", re.compile(r"(?<![A-Za-z0-9])sk-(?:proj|ant-api\d\d|svcacct|admin)-[A-Za-z0-9_-]{20,}")),
    ("an AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")),
    ("a PEM private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{36,}")),
)
# scheme://user:password@ with a literal password (postgres(ql)://, redis://, ...).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<user>[^:/?#\s@'\"]*):(?P<password>[^@\s/'\"]+)@", re.I)
_PLACEHOLDER = re.compile(r"^(?:\$.*|\{\{.*|<.*>|\*+|%\(.*|os\.environ/.*)$")

# Environment variable (or config key) names that denote a secret: ending in a secret word, or a
# strong secret word followed by a qualifier such as this stack's team suffix
# (LANGFUSE_SECRET_KEY_HOME_RENTALS), unless that qualifier says the value is not the secret itself
# (…_KEY_ID, …_TOKEN_TTL, …_PASSWORD_FILE, …_SECRET_ARN).
SECRET_NAME = re.compile(r"(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|_KEY|TOKEN|SALT|_AUTH|CREDENTIALS?)$", re.I)
QUALIFIED_SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|SECRET|TOKEN|(?:SECRET|PUBLIC|PRIVATE|API|MASTER|ACCESS|ENCRYPTION|SIGNING|SALT)_KEY)"
    r"(?P<qualifiers>(?:_[A-Z0-9]+)+)$",
    re.I,
)
NON_SECRET_QUALIFIERS = frozenset({
    "ID", "ARN", "FILE", "PATH", "NAME", "TTL", "LENGTH", "PREFIX", "HEADER", "ENABLED", "REQUIRED", "TYPE",
    "EXPIRY", "AGE", "SECONDS", "MINUTES", "HOURS", "DAYS", "COUNT", "MODE", "VERSION", "REGION", "URL", "ENDPOINT",
})
# Names that end like a secret but carry an identifier: a KMS key id/ARN grants nothing by itself
# (use is authorised by IAM and the key policy). Langfuse "public" keys are NOT exempt: the pair
# authenticates ingestion into a project, so this stack keeps both halves in Secrets Manager.
NON_SECRET_NAME = re.compile(r"(?:_KMS_KEY)$", re.I)
# Values that point at a secret instead of holding one.
REFERENCE = re.compile(
    r"""^(?:
        os\.environ/[A-Za-z_][A-Za-z0-9_]*              # LiteLLM config reference
      | \$\$?\{[A-Za-z_][A-Za-z0-9_]*(?:[:?-][^}]*)?\}   # ${VAR} (compose/shell interpolation)
      | \$\$?[A-Za-z_][A-Za-z0-9_]*                      # $VAR
      | \$\(.*\)                                         # $(command) computed at runtime
      | arn:aws[a-z-]*:(?:secretsmanager|ssm|kms):\S+    # where the secret lives
      | \{\{.*\}\}                                       # a template placeholder
      | true | false
    )$""",
    re.X | re.I | re.S,
)
# Environment variables whose value is itself a document (the LiteLLM proxy config).
STRUCTURED_ENV = ("LITELLM_PROXY_CONFIG",)


def secret_patterns_in(text: str) -> list[str]:
    """What kinds of secret `text` contains (never the values)."""
    kinds = [kind for kind, pattern in SECRET_PATTERNS if pattern.search(text)]
    for match in _URL_CREDENTIALS.finditer(text):
        if not _PLACEHOLDER.match(match.group("password")):
            kinds.append(f"a {match.group('scheme')}:// URL with an embedded password")
            break
    return kinds


def secret_name(name: str, ctx: Context) -> bool:
    if name.upper() in ctx.allowed_env_names or NON_SECRET_NAME.search(name):
        return False
    if SECRET_NAME.search(name):
        return True
    qualified = QUALIFIED_SECRET_NAME.search(name)
    return bool(qualified) and not (set(qualified.group("qualifiers").upper().split("_")) & NON_SECRET_QUALIFIERS)


def literal_secret(name: str, value: Any, ctx: Context) -> bool:
    """A secret-named variable carrying a non-empty literal (not a reference)."""
    return (isinstance(value, str) and not is_unknown(value) and value.strip() != ""
            and secret_name(name, ctx) and not REFERENCE.match(value.strip()))


def _config_literals(document: Any, path: str = "") -> Iterator[str]:
    """Keys of a config document (e.g. LiteLLM's) that hold a literal where a secret belongs."""
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, str) and SECRET_NAME.search(str(key)) and value.strip() and not REFERENCE.match(value.strip()):
                yield where
            else:
                yield from _config_literals(value, where)
    elif isinstance(document, list):
        for i, value in enumerate(document):
            yield from _config_literals(value, f"{path}[{i}]")


def environment_findings(where: str, environment: Mapping[str, Any], ctx: Context, *, value_patterns: bool = True) -> list[str]:
    """Secret names with literals and secret-looking values in one environment (name -> value)."""
    messages = []
    for name, value in environment.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a YAML number is still a literal (DB_PASSWORD: 12345678)
        if not isinstance(value, str) or is_unknown(value):
            continue
        if literal_secret(name, value, ctx):
            messages.append(f"{where}: environment variable {name} holds a literal value; a secret must come from "
                            "Secrets Manager by reference (ECS `secrets`/valueFrom, or the host's env file)")
        for kind in secret_patterns_in(value) if value_patterns else ():
            messages.append(f"{where}: environment variable {name} contains {kind}")
        if name in STRUCTURED_ENV and yaml is not None:
            try:
                document = yaml.safe_load(value)
            except yaml.YAMLError:
                document = None
            for key in _config_literals(document):
                messages.append(f"{where}: {name} sets {key} to a literal; use an os.environ/ reference")
    return messages


def _env_mapping(environment: Any) -> dict[str, Any]:
    """ECS [{name, value}], compose {NAME: value} or ["NAME=value"] as one mapping."""
    if isinstance(environment, dict):
        return {str(k): v for k, v in environment.items()}
    mapping: dict[str, Any] = {}
    for item in as_list(environment):
        if isinstance(item, dict) and "name" in item:
            mapping[str(item["name"])] = item.get("value")
        elif isinstance(item, str):
            name, _, value = item.partition("=")
            mapping[name] = value
    return mapping


def container_definitions(props: dict) -> list[dict]:
    definitions = json_document(props.get("containerDefinitions"), "containerDefinitions")
    return [d for d in as_list(definitions) if isinstance(d, dict)]


def no_secrets_in_container_environment(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    for definition in container_definitions(props):
        where = f"container {definition.get('name', '?')}"
        messages += environment_findings(where, _env_mapping(definition.get("environment")), ctx)
        # A literal secret in a command line is no better than one in the environment.
        for key in ("command", "entryPoint", "dockerLabels", "healthCheck"):
            for kind in {k for text in strings_in(definition.get(key)) for k in secret_patterns_in(text)}:
                messages.append(f"{where}: {key} contains {kind}")
    return messages


# --- user data ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """One piece of text a host receives: the user data itself or a file it writes."""

    where: str
    text: str


class UndecodableUserData(ValueError):
    pass


_GZIP_MAGIC = b"\x1f\x8b"
_USER_DATA_STARTS = ("#", "Content-Type:", "MIME-Version:")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")


def _bytes_to_text(data: bytes) -> str:
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _decode_write_file(content: str | bytes, encoding: str) -> str:
    encoding = (encoding or "text/plain").lower()
    if isinstance(content, bytes):  # YAML !!binary
        return _bytes_to_text(content)
    data = content.encode()
    if encoding in ("b64", "base64", "gz+b64", "gz+base64", "gzip+b64", "gzip+base64"):
        data = base64.b64decode(content, validate=False)
    if encoding.startswith(("gz", "gzip")) or data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _expand(where: str, text: str) -> list[Document]:
    """The text, plus every file a cloud-config writes and every part of a MIME multipart."""
    stripped = text.lstrip()
    if stripped.startswith(("Content-Type: multipart", "MIME-Version:")):
        message = email.message_from_string(text)
        documents = []  # the parts, decoded (their raw, possibly base64, form says nothing)
        for i, part in enumerate(p for p in message.walk() if not p.is_multipart()):
            payload = part.get_payload(decode=True) or b""
            documents += _expand(f"{where} part {i + 1}", _bytes_to_text(payload))
        return documents
    if not stripped.startswith("#cloud-config"):
        return [Document(where, text)]
    if yaml is None:  # pragma: no cover
        raise UndecodableUserData(f"{where}: PyYAML is missing, cannot read the cloud-config")
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise UndecodableUserData(f"{where}: the cloud-config is not valid YAML ({error.__class__.__name__})") from error
    if not isinstance(config, dict):
        return [Document(where, text)]
    files = [entry for entry in as_list(config.get("write_files")) if isinstance(entry, dict)]
    # The document itself (runcmd, bootcmd, ...) without the files, which are scanned one by one.
    skeleton = {**config, "write_files": [{k: v for k, v in e.items() if k != "content"} for e in files]}
    documents = [Document(where, "#cloud-config\n" + yaml.safe_dump(skeleton, sort_keys=False, width=1 << 16))]
    for entry in files:
        path = entry.get("path", "?")
        try:
            raw = entry.get("content", "")
            content = _decode_write_file(raw if isinstance(raw, bytes) else str(raw), str(entry.get("encoding", "")))
        except (binascii.Error, OSError, EOFError, UnicodeDecodeError, ValueError):
            raise UndecodableUserData(f"{where}: write_files {path} could not be decoded "
                                      f"(encoding {entry.get('encoding')!r})") from None
        documents.append(Document(f"{where} file {path}", content))
    return documents


def user_data_documents(typ: str, props: dict) -> list[Document]:
    """Decode a host's user data (plain, base64, gzip, MIME, cloud-config write_files)."""
    documents = []
    fields = [("userDataBase64", True)] if typ == INSTANCE else []
    fields.insert(0, ("userData", typ == LAUNCH_TEMPLATE))  # a launch template takes base64
    for key, is_base64 in fields:
        value = known(props.get(key), key)
        if not value:
            continue
        if not isinstance(value, str):
            raise UndecodableUserData(f"{key} is not text")
        text = value
        if is_base64 or (_BASE64.match(value) and len(value) >= 16):
            try:
                decoded = _bytes_to_text(base64.b64decode(value, validate=False))
            except (binascii.Error, OSError, EOFError, UnicodeDecodeError, ValueError):
                if is_base64:
                    raise UndecodableUserData(f"{key} is not valid base64 text") from None
                decoded = None  # plain text that merely looks like base64
            # `userData` is text; it is only taken as base64 when it decodes to a user-data format.
            if decoded is not None and (is_base64 or decoded.lstrip().startswith(_USER_DATA_STARTS)):
                text = decoded
        documents += _expand(key, text)
    return documents


_ENV_LINE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.M)
_IMAGE_LINE = re.compile(r"^[ \t]*(?:-[ \t]*)?image:[ \t]*[\"']?([^\s\"'#]+)", re.M)
PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")


def _compose_services(text: str) -> dict:
    if yaml is None or "services:" not in text:
        return {}
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    services = document.get("services") if isinstance(document, dict) else None
    return services if isinstance(services, dict) else {}


def no_secrets_in_user_data(typ: str, props: dict, ctx: Context) -> list[str]:
    try:
        documents = user_data_documents(typ, props)
    except UndecodableUserData as error:
        return [f"user data cannot be checked for secrets: {error}"]
    messages = []
    for document in documents:
        for kind in secret_patterns_in(document.text):
            messages.append(f"{document.where} contains {kind}")
        for name, value in _ENV_LINE.findall(document.text):
            value = value.strip().strip("'\"")
            if literal_secret(name, value, ctx):
                messages.append(f"{document.where}: {name}= assigns a literal value to a secret-named variable")
        for service, spec in _compose_services(document.text).items():
            if isinstance(spec, dict):
                # Value patterns were already reported for the whole document: names and configs here.
                messages += environment_findings(f"{document.where} service {service}",
                                                 _env_mapping(spec.get("environment")), ctx, value_patterns=False)
    return messages


# --- images pinned by digest ----------------------------------------------------------------------

def images_pinned_by_digest(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    if typ == TASK_DEFINITION:
        for definition in container_definitions(props):
            image = definition.get("image")
            if not isinstance(image, str) or not PINNED.search(image):
                messages.append(f"container {definition.get('name', '?')}: image {image!r} is not pinned by digest "
                                "(name@sha256:<64 hex>)")
        return messages
    try:
        documents = user_data_documents(typ, props)
    except UndecodableUserData as error:
        return [f"user data cannot be checked for image pins: {error}"]
    for document in documents:
        for image in _IMAGE_LINE.findall(document.text):
            if not PINNED.search(image):
                messages.append(f"{document.where}: image {image!r} is not pinned by digest (name@sha256:<64 hex>)")
    return messages


# --- IAM ----------------------------------------------------------------------------------------

def policy_documents(typ: str, props: dict) -> list[tuple[str, Any]]:
    """(label, parsed JSON document) of every identity policy this resource defines."""
    if typ == IAM_ROLE:
        documents = []
        for i, inline in enumerate(as_list(known(props.get("inlinePolicies"), "inlinePolicies"))):
            if isinstance(inline, dict) and inline.get("policy"):
                documents.append((f"inline policy {inline.get('name') or i}",
                                  json_document(inline["policy"], f"inlinePolicies[{i}].policy")))
        return documents
    if props.get("policy") is None:
        return []
    return [("policy", json_document(props.get("policy"), "policy"))]


def statements(document: Any) -> list[dict]:
    if not isinstance(document, dict):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def _action_matches(pattern: str, action: str) -> bool:
    """IAM wildcard matching (`*` and `?`), case-insensitive as IAM is."""
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, action, re.I) is not None


def _bedrock_resource(resource: str) -> bool:
    return resource == "*" or bool(re.match(r"^arn:[^:]*:bedrock:", resource, re.I))


def _whole_service_resource(resource: str) -> bool:
    """`*`, or a Bedrock ARN whose resource part is a bare wildcard (arn:aws:bedrock:*:*:*)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[2].lower() == "bedrock" and parts[5] in ("*", "*/*")


def bedrock_access_scoped(typ: str, props: dict, ctx: Context) -> list[str]:
    """Bedrock is granted action by action on named models, never service-wide or on `*`."""
    messages = []
    try:
        documents = policy_documents(typ, props)
    except (ValueError, TypeError):
        return ["policy is not valid JSON and cannot be checked"]
    for label, document in documents:
        for i, statement in enumerate(statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            where = f"{label} statement {statement.get('Sid') or i}"
            resources = [str(r) for r in as_list(statement.get("Resource"))]
            bedrock_resources = [r for r in resources if _bedrock_resource(r)] or (
                ["NotResource"] if statement.get("NotResource") is not None else [])
            if statement.get("NotAction") is not None:
                excluded = [str(a) for a in as_list(statement.get("NotAction"))]
                if bedrock_resources and not any(_action_matches(a, "bedrock:InvokeModel") for a in excluded):
                    messages.append(f"{where}: Allow with NotAction grants every Bedrock action not listed")
                continue
            actions = [str(a) for a in as_list(statement.get("Action"))]
            for action in actions:
                if action in ("*", "*:*") or action.lower() == "bedrock:*":
                    if bedrock_resources:
                        messages.append(f"{where}: action {action!r} grants every Bedrock action "
                                        f"(on {', '.join(sorted(set(bedrock_resources)))})")
                    continue
                if not action.lower().startswith("bedrock:"):
                    continue
                if "*" in action or "?" in action:
                    messages.append(f"{where}: wildcard Bedrock action {action!r}; list the exact actions "
                                    "(bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream)")
                wide = [r for r in resources if _whole_service_resource(r)]
                if wide or statement.get("NotResource") is not None:
                    messages.append(f"{where}: {action} on {', '.join(wide) or 'NotResource'}; "
                                    "grant it on the configured model and inference-profile ARNs only")
    return messages


ADMIN_POLICIES = re.compile(r":policy/(?:AdministratorAccess|IAMFullAccess|PowerUserAccess)$")


def iam_least_privilege(typ: str, props: dict, ctx: Context) -> list[str]:
    """No administrator grants: `*` on `*`, `iam:*`/`iam:PassRole` on `*`, or AWS admin policies."""
    if typ in (IAM_ROLE_POLICY_ATTACHMENT, IAM_POLICY_ATTACHMENT, IAM_USER_POLICY_ATTACHMENT, IAM_GROUP_POLICY_ATTACHMENT):
        arn = props.get("policyArn", "")  # unknown: a policy this stack creates, not an AWS-managed one
        return [f"attaches {arn.rsplit('/', 1)[-1]}: administrator-level managed policies are not allowed"] \
            if isinstance(arn, str) and ADMIN_POLICIES.search(arn) else []
    messages = []
    if typ == IAM_ROLE:
        for arn in as_list(known(props.get("managedPolicyArns"), "managedPolicyArns")):
            if isinstance(arn, str) and ADMIN_POLICIES.search(arn):
                messages.append(f"attaches {str(arn).rsplit('/', 1)[-1]}: administrator-level managed policies are not allowed")
    try:
        documents = policy_documents(typ, props)
    except (ValueError, TypeError):
        return messages + ["policy is not valid JSON and cannot be checked"]
    for label, document in documents:
        for i, statement in enumerate(statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            where = f"{label} statement {statement.get('Sid') or i}"
            everywhere = "*" in [str(r) for r in as_list(statement.get("Resource"))] or statement.get("NotResource") is not None
            if statement.get("NotAction") is not None and everywhere:
                messages.append(f"{where}: Allow with NotAction on every resource is an administrator grant")
            for action in (str(a) for a in as_list(statement.get("Action"))):
                if action in ("*", "*:*"):
                    messages.append(f"{where}: action '*' is an administrator grant")
                elif everywhere and (action.lower() in ("iam:*", "iam:passrole") or action.lower().startswith("iam:*")):
                    messages.append(f"{where}: {action} on '*' allows privilege escalation")
    return messages


# --- logs, secrets, keys ------------------------------------------------------------------------

def log_group_retention(typ: str, props: dict, ctx: Context) -> list[str]:
    days = known(props.get("retentionInDays"), "retentionInDays")
    if days is None or float(days) <= 0:
        return ["retentionInDays is not set (logs would be kept forever): set a retention in days"]
    return []


def log_group_kms(typ: str, props: dict, ctx: Context) -> list[str]:
    return [] if is_set(props.get("kmsKeyId")) else [
        "no kmsKeyId: encrypt the log group with the stack's customer-managed key"]


def secret_kms(typ: str, props: dict, ctx: Context) -> list[str]:
    return [] if is_set(props.get("kmsKeyId")) else [
        "no kmsKeyId: encrypt the secret with the stack's customer-managed key, not aws/secretsmanager"]


def kms_key_hardening(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    spec = str(known(props.get("customerMasterKeySpec") or props.get("keySpec") or "SYMMETRIC_DEFAULT", "keySpec"))
    if spec == "SYMMETRIC_DEFAULT" and known(props.get("enableKeyRotation"), "enableKeyRotation") is not True:
        messages.append("enableKeyRotation is not true: symmetric keys must rotate yearly")
    try:
        document = json_document(props.get("policy"), "policy") if props.get("policy") else None
    except (ValueError, TypeError):
        return messages + ["key policy is not valid JSON and cannot be checked"]
    for i, statement in enumerate(statements(document)):
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        if statement.get("Effect") == "Allow" and "*" in [str(p) for p in as_list(aws)] and not statement.get("Condition"):
            messages.append(f"key policy statement {statement.get('Sid') or i} allows any principal ('*') without a condition")
    return messages


# --- compute: instances, volumes, subnets, ECS, cache -------------------------------------------

def ec2_instance_hardening(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    metadata = known(props.get("metadataOptions"), "metadataOptions") or {}
    tokens = known(metadata.get("httpTokens"), "metadataOptions.httpTokens")
    if metadata.get("httpEndpoint") != "disabled" and tokens != "required":
        messages.append("metadataOptions.httpTokens is not 'required': IMDSv2 must be enforced")
    if typ == LAUNCH_TEMPLATE:
        return messages
    if known(props.get("associatePublicIpAddress"), "associatePublicIpAddress") is True:
        messages.append("associatePublicIpAddress is true: hosts live in private subnets")
    root = known(props.get("rootBlockDevice"), "rootBlockDevice") or {}
    if known(root.get("encrypted"), "rootBlockDevice.encrypted") is not True:
        messages.append("rootBlockDevice.encrypted is not true")
    for i, device in enumerate(as_list(known(props.get("ebsBlockDevices"), "ebsBlockDevices"))):
        if isinstance(device, dict) and known(device.get("encrypted"), f"ebsBlockDevices[{i}].encrypted") is not True:
            messages.append(f"ebsBlockDevices[{i}] is not encrypted")
    if known(props.get("monitoring"), "monitoring") is not True:
        messages.append("monitoring (detailed monitoring) is not true")
    if known(props.get("ebsOptimized"), "ebsOptimized") is not True:
        messages.append("ebsOptimized is not true")
    return messages


def ebs_volume_encrypted(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    if known(props.get("encrypted"), "encrypted") is not True:
        messages.append("encrypted is not true: data volumes must be encrypted")
    if not is_set(props.get("kmsKeyId")):
        messages.append("no kmsKeyId: encrypt the volume with the stack's customer-managed key")
    return messages


def subnet_no_public_ip(typ: str, props: dict, ctx: Context) -> list[str]:
    return ["mapPublicIpOnLaunch is true: nothing should get a public address by default"] \
        if known(props.get("mapPublicIpOnLaunch"), "mapPublicIpOnLaunch") is True else []


def ecs_hardening(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    if typ == ECS_CLUSTER:
        settings = {str(s.get("name")): s.get("value") for s in as_list(known(props.get("settings"), "settings"))
                    if isinstance(s, dict)}
        if settings.get("containerInsights") not in ("enabled", "enhanced"):
            messages.append("containerInsights is not enabled")
    elif typ == ECS_SERVICE:
        network = known(props.get("networkConfiguration"), "networkConfiguration") or {}
        if known(network.get("assignPublicIp"), "networkConfiguration.assignPublicIp") is True:
            messages.append("networkConfiguration.assignPublicIp is true: tasks run in private subnets")
    elif typ == TASK_DEFINITION:
        if known(props.get("networkMode"), "networkMode") == "host" or known(props.get("pidMode"), "pidMode") == "host":
            messages.append("networkMode/pidMode 'host' shares the host's namespaces")
        execution, task = props.get("executionRoleArn"), props.get("taskRoleArn")
        if execution and task and execution == task and not is_unknown(execution):
            messages.append("executionRoleArn equals taskRoleArn: the application would hold ECS's secret-pulling permissions")
        try:
            definitions = container_definitions(props)
        except Unknown:
            definitions = []  # built from ARNs not known before `up`; checked then
        for definition in definitions:
            if definition.get("privileged") is True:
                messages.append(f"container {definition.get('name', '?')} is privileged")
    return messages


def elasticache_encrypted(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    if known(props.get("atRestEncryptionEnabled"), "atRestEncryptionEnabled") not in (True, "true"):
        messages.append("atRestEncryptionEnabled is not true")
    if known(props.get("transitEncryptionEnabled"), "transitEncryptionEnabled") is not True:
        messages.append("transitEncryptionEnabled is not true")
    if not is_set(props.get("authToken")) and not is_set(props.get("userGroupIds")):
        messages.append("no authToken (or user group): the cache would accept unauthenticated clients")
    if not is_set(props.get("kmsKeyId")):
        messages.append("no kmsKeyId: encrypt the cache with the stack's customer-managed key")
    return messages


# --- load balancer --------------------------------------------------------------------------------

def load_balancer_hardening(typ: str, props: dict, ctx: Context) -> list[str]:
    messages = []
    logs = known(props.get("accessLogs"), "accessLogs") or {}
    if not (isinstance(logs, dict) and known(logs.get("enabled"), "accessLogs.enabled") is True
            and is_set(logs.get("bucket"))):
        messages.append("accessLogs are not enabled with a bucket")
    kind = known(props.get("loadBalancerType", "application"), "loadBalancerType")
    if kind == "application" and known(props.get("dropInvalidHeaderFields"), "dropInvalidHeaderFields") is not True:
        messages.append("dropInvalidHeaderFields is not true (HTTP desync / request smuggling)")
    return messages


TLS12_POLICIES = re.compile(r"^ELBSecurityPolicy-(?:TLS13-1-[23]-|TLS-1-2-|FS-1-2-)")


def listener_tls(typ: str, props: dict, ctx: Context) -> list[str]:
    protocol = str(known(props.get("protocol", "HTTP"), "protocol")).upper()
    if protocol in ("HTTPS", "TLS"):
        policy = str(known(props.get("sslPolicy") or "", "sslPolicy"))
        return [] if TLS12_POLICIES.match(policy) else [f"sslPolicy {policy or '(default)'} allows TLS below 1.2"]
    if protocol == "HTTP":
        actions = as_list(known(props.get("defaultActions"), "defaultActions"))
        redirects = all(
            isinstance(a, dict) and a.get("type") == "redirect"
            and str((a.get("redirect") or {}).get("protocol", "")).upper() == "HTTPS"
            for a in actions
        ) and bool(actions)
        if not redirects:
            return [f"plain HTTP listener on port {_port(props.get('port'), 'port')} serves traffic instead of redirecting to HTTPS"]
    return []


# --- production only ------------------------------------------------------------------------------

def deletion_protection_in_prod(typ: str, props: dict, ctx: Context) -> list[str]:
    if not ctx.prod:
        return []
    messages = []
    if typ in (RDS_INSTANCE, RDS_CLUSTER):
        if known(props.get("deletionProtection"), "deletionProtection") is not True:
            messages.append("deletionProtection is not true in prod")
        if known(props.get("skipFinalSnapshot", False), "skipFinalSnapshot") is True:
            messages.append("skipFinalSnapshot is true in prod: deleting the database would lose its data")
    elif typ in LOAD_BALANCERS:
        if known(props.get("enableDeletionProtection"), "enableDeletionProtection") is not True:
            messages.append("enableDeletionProtection is not true in prod")
    return messages


PROD_LOG_RETENTION_DAYS = 365


def prod_resilience(typ: str, props: dict, ctx: Context) -> list[str]:
    """Advisory: what checkov wants of production sizing (the stack exposes these as settings)."""
    if not ctx.prod:
        return []
    messages = []
    if typ == RDS_INSTANCE:
        if known(props.get("multiAz"), "multiAz") is not True:
            messages.append("multiAz is not true in prod (database.multiAz)")
        if known(props.get("performanceInsightsEnabled"), "performanceInsightsEnabled") is not True:
            messages.append("performanceInsightsEnabled is not true in prod (database.performanceInsights)")
    elif typ == LOG_GROUP:
        days = known(props.get("retentionInDays"), "retentionInDays")
        if days is not None and 0 < float(days) < PROD_LOG_RETENTION_DAYS:
            messages.append(f"retentionInDays is {int(float(days))} in prod; keep at least {PROD_LOG_RETENTION_DAYS} "
                            "(logRetentionDays / network.flowLogRetentionDays)")
    elif typ == ELASTICACHE_REPLICATION_GROUP:
        if known(props.get("automaticFailoverEnabled"), "automaticFailoverEnabled") is not True:
            messages.append("automaticFailoverEnabled is not true in prod (redis.replicas >= 1)")
    return messages
