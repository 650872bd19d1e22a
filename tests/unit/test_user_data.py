"""The compose host's cloud-init user data: modules, files, unit, size, and never a secret value."""

from __future__ import annotations

import json
from dataclasses import replace

import pulumi
import pulumi_aws as aws
import pytest

from components.compose_host import user_data_from_specs

from renderers.compose_host.boot_needs import APT_MIRRORS, apt_config
from renderers.compose_host.boot import boot
from renderers.compose_host.layout import AwsLogs, HostPaths
from renderers.compose_host.imds import DOCKER_DROP_IN
from renderers.compose_host.user_data import (
    COMPOSE_FILE,
    DATA_VOLUME,
    DATA_VOLUME_SCRIPT,
    FETCH_SECRETS,
    FETCHER,
    SECRETS_PLAN,
    UNIT_FILE,
    USER_DATA_LIMIT,
    data_volume_device,
)
from tests.support.hosts import (
    PLANS,
    written_files,
    STAGING_PORTS,
    clickhouse_plan,
    compose_file_of,
    staging_plan,
    staging_settings,
)
from tests.support.pulumi_mocks import run_pulumi, unwrap
from tests.support.settings import make_settings
from tests.support import yaml_docs


@pytest.fixture(params=sorted(PLANS))
def host(request):
    plan = PLANS[request.param]()
    user_data = boot(plan).user_data
    return plan, user_data, written_files(user_data)


def test_a_cloud_config_with_exactly_the_expected_modules(host):
    _, user_data, _ = host
    assert user_data.startswith("#cloud-config\n")
    document = yaml_docs.load(user_data)
    assert list(document) == ["apt", "package_update", "packages", "write_files", "runcmd"]
    assert document["package_update"] is True
    assert document["packages"] == ["docker.io", "docker-compose-v2", "python3-boto3"]
    assert "snap" not in document


def test_apt_uses_exactly_the_mirrors_of_the_boot_needs(host):
    """Ubuntu's own archive, named explicitly (no DNS search, no third-party source): the mirror the
    host's security group is derived from. arm64 is served by the ports archive."""
    _, user_data, _ = host
    apt = yaml_docs.load(user_data)["apt"]
    assert apt == apt_config()
    assert set(apt) == {"primary", "security"}
    assert {entry["uri"] for kind in apt.values() for entry in kind} == set(APT_MIRRORS.values()) == {
        "http://ports.ubuntu.com/ubuntu-ports",
    }


def test_writes_the_scripts_compose_file_config_files_and_unit(host):
    plan, _, files = host
    config_files = {
        f"/etc/llm-gateway/config/{spec.name}{path}": content for spec in plan.specs for path, content in spec.config_files.items()
    }
    assert set(files) == {DATA_VOLUME_SCRIPT, FETCHER, SECRETS_PLAN, COMPOSE_FILE, UNIT_FILE, DOCKER_DROP_IN, *config_files}
    assert files[DATA_VOLUME_SCRIPT]["content"] == DATA_VOLUME
    assert files[FETCHER]["content"] == FETCH_SECRETS
    assert files[COMPOSE_FILE]["content"] == boot(plan).compose_file
    for path, content in config_files.items():
        assert files[path]["content"] == content
    assert {path: f["permissions"] for path, f in files.items()} == {
        DATA_VOLUME_SCRIPT: "0755", FETCHER: "0755", SECRETS_PLAN: "0600", COMPOSE_FILE: "0644", UNIT_FILE: "0644",
        **{path: "0644" for path in config_files},
        DOCKER_DROP_IN: "0644",
    }
    assert {f["owner"] for f in files.values()} == {"root:root"}


def test_the_compose_file_is_the_plans_rendering():
    plan = staging_plan()
    expected = compose_file_of(plan.specs, STAGING_PORTS, images=plan.images, logs=AwsLogs(plan.log_group, "us-east-1"))
    assert boot(plan).compose_file == expected
    assert "json-file" in boot(replace(plan, log_group=None)).compose_file


def test_the_secrets_plan_covers_every_secret_reference_exactly(host):
    plan, _, files = host
    secrets_plan = json.loads(files[SECRETS_PLAN]["content"])
    assert secrets_plan["region"] == "us-east-1"
    listed = {
        (path, entry["env"], entry["secret_arn"], entry["key"])
        for path, entries in secrets_plan["env_files"].items()
        for entry in entries
    }
    assert listed == {
        (f"/run/llm-gateway/secrets/{spec.name}.env", var, plan.secret_arns[ref.secret], ref.key)
        for spec in plan.specs
        for var, ref in spec.secrets.items()
    }


def test_runcmd_prepares_the_volume_by_id_then_enables_the_unit(host):
    _, user_data, _ = host
    assert yaml_docs.load(user_data)["runcmd"] == [
        [DATA_VOLUME_SCRIPT, "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0", "/data", "/etc/fstab"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "llm-gateway.service"],
    ]


@pytest.mark.parametrize("volume_id, device", [
    ("vol-0123456789abcdef0", "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"),
    ("vol-1a2b3c4d", "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol1a2b3c4d"),
])
def test_data_volume_device(volume_id, device):
    assert data_volume_device(volume_id) == device


@pytest.mark.parametrize("volume_id", ["", "vol-", "data-volume-id", "vol-XYZ12345", "vol-0123 /dev/sda", "snap-0123456789abcdef0"])
def test_data_volume_device_refuses_anything_but_a_volume_id(volume_id):
    with pytest.raises(ValueError, match="not an EBS volume id"):
        data_volume_device(volume_id)


def unit_lines(files) -> list[str]:
    return files[UNIT_FILE]["content"].splitlines()


def test_unit_waits_for_docker_and_the_data_volume_then_fetches_secrets_then_starts(host):
    plan, _, files = host
    lines = unit_lines(files)
    for line in ("Requires=docker.service", "After=docker.service network-online.target", "RequiresMountsFor=/data",
                 "Type=oneshot", "RemainAfterExit=yes", "WantedBy=multi-user.target", "Restart=on-failure"):
        assert line in lines
    starts = [line for line in lines if line.startswith(("ExecStartPre=", "ExecStart="))]
    assert starts[0] == "ExecStartPre=/usr/bin/mountpoint -q /data"
    assert starts[-2:] == [
        f"ExecStartPre={FETCHER} {SECRETS_PLAN}",
        f"ExecStart=/usr/bin/docker compose --file {COMPOSE_FILE} up --detach --remove-orphans --wait --wait-timeout 900",
    ]
    assert f"ExecStop=/usr/bin/docker compose --file {COMPOSE_FILE} down" in lines
    assert f"TimeoutStopSec={sum(spec.stop_timeout for spec in plan.specs) + 60}" in lines


@pytest.mark.parametrize("plan_name, directories", [
    ("staging", [
        # The team plane's scratch space on tmpfs first (its steps come before the data stores).
        "ExecStartPre=/usr/bin/install -d -o 0 -g 0 -m 0750 /run/llm-gateway/scratch/team-plane-work",
        "ExecStartPre=/usr/bin/install -d -o 101 -g 101 -m 0750 /data/clickhouse-data",
        "ExecStartPre=/usr/bin/install -d -o 101 -g 101 -m 0750 /data/clickhouse-logs",
        "ExecStartPre=/usr/bin/install -d -o 0 -g 0 -m 0750 /data/redis-data",
    ]),
    ("clickhouse", [
        "ExecStartPre=/usr/bin/install -d -o 101 -g 101 -m 0750 /data/clickhouse-data",
        "ExecStartPre=/usr/bin/install -d -o 101 -g 101 -m 0750 /data/clickhouse-logs",
    ]),
])
def test_unit_creates_each_volume_directory_owned_by_its_service(plan_name, directories):
    files = written_files(boot(PLANS[plan_name]()).user_data)
    assert [line for line in unit_lines(files) if "install -d" in line] == directories


def test_paths_follow_the_plan():
    plan = replace(clickhouse_plan(), paths=HostPaths(data_dir="/srv/data", secrets_dir="/run/gw"))
    user_data = boot(plan).user_data
    files = written_files(user_data)
    assert "RequiresMountsFor=/srv/data" in unit_lines(files)
    assert yaml_docs.load(user_data)["runcmd"][0][2] == "/srv/data"
    assert list(json.loads(files[SECRETS_PLAN]["content"])["env_files"]) == ["/run/gw/clickhouse.env"]


def test_small_hosts_stay_plain_text_and_large_ones_compress_under_the_limit():
    small = boot(clickhouse_plan()).user_data
    assert "encoding" not in small and "<clickhouse>" in small
    large = boot(staging_plan(staging_settings(team_count=10))).user_data
    assert len(large.encode()) <= USER_DATA_LIMIT
    assert {entry["encoding"] for entry in yaml_docs.load(large)["write_files"]} == {"gz+b64"}
    # Teams reach LiteLLM through the team-plane document, never through the host's files.
    assert "LANGFUSE_SECRET_KEY_TEAM_9" not in written_files(large)[COMPOSE_FILE]["content"]


def test_refuses_user_data_over_the_ec2_limit():
    # Teams no longer reach the user data (tests/unit/test_teams_at_scale.py): what still could is
    # the stack's own content, e.g. a proxy config with very many models.
    models = [{"name": f"model-{i:03d}", "bedrockModel": f"amazon.titan-embed-text-v{i}:0",
               "inputCostPerToken": 0.000001, "outputCostPerToken": 0.000001} for i in range(400)]
    with pytest.raises(ValueError, match="over EC2's limit"):
        boot(staging_plan(make_settings(compute="ec2", models=models)))


def test_what_ec2_receives_fits_its_limit_with_the_secret_versions():
    """The size is checked on the document as sent: the secret versions are part of it. A host whose
    plain document (without them) is a few bytes under 16 KB must still reach EC2 under it."""
    plan = clickhouse_plan()
    versions = {name: f"v-{name}-0123456789abcdef0123456789abcdef" for name in {n for s in plan.specs for n in s.secret_names}}
    comment_size = len("".join(f" {name}={version}" for name, version in versions.items())) + len("# secret versions:\n")
    (clickhouse,) = plan.specs

    def padded(filler: int):  # ClickHouse with one more variable of `filler` bytes
        return (replace(clickhouse, environment={**clickhouse.environment, "FILLER": "x" * filler}),)

    base = len(boot(replace(plan, specs=padded(0))).user_data.encode())
    filler = USER_DATA_LIMIT - base - comment_size // 2
    specs = padded(filler)  # plain, and over the limit with the versions
    assert USER_DATA_LIMIT - comment_size < len(boot(replace(plan, specs=specs)).user_data.encode()) <= USER_DATA_LIMIT

    def build():
        user_data = user_data_from_specs(
            plan.region, specs, {spec.image: plan.images[spec.name] for spec in specs}, plan.secret_arns,
            plan.published, versions,
        )(pulumi.Output.from_input(plan.data_volume_id), pulumi.Output.from_input(plan.log_group))
        aws.ec2.Instance("host", ami="ami-0123456789abcdef0", instance_type="t4g.medium", user_data=user_data)

    sent = unwrap(run_pulumi(build).named("host").input("userData"))  # the mocks refuse what EC2 would
    assert len(sent.encode()) <= USER_DATA_LIMIT
    assert all(f"{name}={version}" in sent for name, version in versions.items())
    assert "x" * filler in written_files(sent)[COMPOSE_FILE]["content"]  # compressed, not cut


@pytest.mark.parametrize("plan_name", sorted(PLANS))
def test_deterministic(plan_name):
    assert boot(PLANS[plan_name]()).user_data == boot(PLANS[plan_name]()).user_data


FAKE_SECRET_VALUES = {
    # Every value the platform's secrets hold, recognisable wherever it would leak.
    "masterKey": "sk-FAKEMASTER0000000000000000000000000000000000000001",
    "saltKey": "FAKE-SALT-KEY-0002",
    "databasePassword": "FAKEDBPASSWORD0003",
    "databaseUrl": "postgresql://litellm:FAKEDBPASSWORD0003@db:5432/litellm",
    "nextauthSecret": "FAKE-NEXTAUTH-0004",
    "salt": "FAKE-SALT-0005",
    "encryptionKey": "f" * 63 + "6",
    "adminPassword": "FAKEADMINPASSWORD0007",
    "password": "FAKEPASSWORD0008",
    "passwordForUrl": "FAKEPASSWORDFORURL0018",
    "username": "FAKEUSERNAME0009",
    "authToken": "FAKEREDISTOKEN0010",
    "user": "FAKECHUSER0011",
    "uiUsername": "FAKEUIUSER0014",
    "uiPassword": "FAKEUIPASSWORD0015",
}
EXISTING_KEYS = {"team-0": {"publicKey": "pk-lf-FAKE-EXISTING-PUBLIC-0012", "secretKey": "sk-lf-FAKE-EXISTING-SECRET-0013"}}


def test_no_secret_value_anywhere_in_the_user_data():
    """End to end: secrets from stack config (existing team keys) and from Secrets Manager never get in."""
    teams = [{"name": "team-0", "langfuseKeys": "existing"}, *({"name": f"team-{i}"} for i in range(1, 10))]
    plan = staging_plan(make_settings(compute="ec2", teams=teams, secrets={"existingLangfuseKeys": EXISTING_KEYS}))
    referenced = {ref.key for spec in plan.specs for ref in spec.secrets.values()}
    assert referenced <= {*FAKE_SECRET_VALUES, "publicKey", "secretKey"}  # a fake for every kind of value
    user_data = boot(plan).user_data
    haystack = user_data + "".join(f["content"] for f in written_files(user_data).values())
    values = [*FAKE_SECRET_VALUES.values(), *EXISTING_KEYS["team-0"].values()]
    assert [value for value in values if value in haystack] == []
    # What does go in: references to every secret, by ARN.
    assert all(arn in haystack for arn in plan.secret_arns.values())
