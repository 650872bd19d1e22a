"""The compose hosts' boot artifacts against the real tools that consume them.

- cloud-init's own schema validates the rendered user data of both hosts;
- the secrets fetcher runs against a fake Secrets Manager (a stand-in `boto3` module);
- the data volume script runs on file-backed disks (real blkid/mkfs.ext4, fake mount).

Missing tools fail with the command that installs them: `scripts/install-system-deps.sh`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from renderers.compose_host.boot_needs import APT_MIRRORS, PACKAGE_MIRROR, Destination
from renderers.compose_host.boot import boot
from renderers.compose_host.layout import HostPaths, layout
from renderers.network import INTERNET, security_group_rules
from renderers.compose_host.user_data import DATA_VOLUME, FETCH_SECRETS, secrets_plan
from tests.support.hosts import PLANS, staging_plan
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import unwrap
from tests.support.settings import OPERATOR_SECRETS, make_settings
from tests.support.stacks import SHIPPED_STACKS

pytestmark = pytest.mark.integration

INSTALL_SYSTEM_DEPS = "run `sudo scripts/install-system-deps.sh` (installs the Debian packages the tests need)"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def require_tool(name: str) -> str:
    path = shutil.which(name, path=SYSTEM_PATH)
    if path is None:
        pytest.fail(f"{name} is not installed: {INSTALL_SYSTEM_DEPS}", pytrace=False)
    return path


# --- cloud-init ---------------------------------------------------------------------------------

def assert_valid_cloud_config(user_data: str, tmp_path: Path, label: str) -> None:
    cloud_init = require_tool("cloud-init")
    path = tmp_path / "user-data.yaml"
    path.write_text(user_data)
    result = subprocess.run([cloud_init, "schema", "--config-file", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        annotated = subprocess.run(
            [cloud_init, "schema", "--config-file", str(path), "--annotate"], capture_output=True, text=True,
        )
        pytest.fail(f"cloud-init schema rejected the {label} user data:\n{annotated.stdout}{annotated.stderr}")


@pytest.mark.parametrize("plan_name", sorted(PLANS))
def test_user_data_is_valid_cloud_config(plan_name, tmp_path):
    assert_valid_cloud_config(boot(PLANS[plan_name]()).user_data, tmp_path, plan_name)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_programs_user_data_is_valid_cloud_config(stack, tmp_path):
    """What the program hands EC2 under mocks: the staging host (stg), the ClickHouse host (prod)."""
    (instance,) = run_shipped(stack).of_type("aws:ec2/instance:Instance")
    assert_valid_cloud_config(unwrap(instance.inputs["userData"]), tmp_path, f"{stack} host")


# What cloud-init's apt module picks for an arm64 host from the rendered `apt:` config; the
# datasource's (EC2's) mirrors would only count if the user data named none.
MIRROR_CHOICE = """
import json, sys
from cloudinit.config import cc_apt_configure


class Datasource:
    def get_package_mirror_info(self):
        return {"primary": "http://datasource-default.invalid/", "security": "http://datasource-default.invalid/"}


class Cloud:
    datasource = Datasource()


config = cc_apt_configure.convert_to_v3_apt_format(json.load(sys.stdin))["apt"]
info = cc_apt_configure.find_apt_mirror_info(config, Cloud(), arch="arm64")
print(json.dumps({"primary": info["PRIMARY"], "security": info["SECURITY"]}))
"""


@pytest.mark.parametrize("plan_name", sorted(PLANS))
def test_cloud_init_uses_exactly_the_mirrors_the_security_group_allows(plan_name):
    """Run cloud-init's own mirror selection (the Python that runs `cloud-init`) on the user data."""
    python = Path(require_tool("cloud-init")).read_text().splitlines()[0].removeprefix("#!").split()[0]
    document = yaml.safe_load(boot(PLANS[plan_name]()).user_data)
    result = subprocess.run([python, "-c", MIRROR_CHOICE], input=json.dumps(document), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    chosen = json.loads(result.stdout)
    assert chosen == APT_MIRRORS
    role, compute = {"staging": ("gateway-host", "ec2"), "clickhouse": ("clickhouse", "ecs")}[plan_name]
    open_ports = {r.port for r in security_group_rules(make_settings(compute=compute)) if (r.source, r.target) == (role, INTERNET)}
    assert {Destination(PACKAGE_MIRROR, uri).port for uri in chosen.values()} <= open_ports


# --- the secrets fetcher ------------------------------------------------------------------------

FAKE_BOTO3 = '''
import json, os


class _SecretsManager:
    def get_secret_value(self, SecretId):
        with open(os.environ["FAKE_SM_CALLS"], "a") as calls:
            calls.write(SecretId + "\\n")
        with open(os.environ["FAKE_SM_SECRETS"]) as secrets:
            return {"ARN": SecretId, "SecretString": json.load(secrets)[SecretId]}


def client(service_name, region_name=None):
    assert service_name == "secretsmanager", service_name
    assert region_name == os.environ["FAKE_SM_REGION"], region_name
    return _SecretsManager()
'''

# Values that would break a naive env file: quotes, `$` in every form compose knows, backslashes,
# a comment marker, a newline. Each carries a marker so a leak is easy to spot.
TRICKY = [
    'LEAK1-p@ss"word\'s $HOME ${X} $$ \\n \\ # not a comment',
    "LEAK2-postgresql://litellm:Ab3$xYz@db.example.com:5432/litellm?sslmode=require&x=1",
    "LEAK3-line one\nline two\r\n\ttabbed=",
    "LEAK4-" + "A" * 64,
]


def fake_secrets(plan) -> dict[str, dict[str, str]]:
    """ARN -> secret JSON holding every key the plan references, with tricky values."""
    secrets: dict[str, dict[str, str]] = {}
    for spec in plan.specs:
        for ref in spec.secrets.values():
            keys = secrets.setdefault(plan.secret_arns[ref.secret], {})
            keys.setdefault(ref.key, f"{TRICKY[len(secrets) % len(TRICKY)]}-{ref.secret}-{ref.key}")
    return secrets


def run_fetcher(tmp_path: Path, plan, secrets: dict[str, object]) -> subprocess.CompletedProcess:
    fake = tmp_path / "fake-boto3"
    fake.mkdir(exist_ok=True)
    (fake / "boto3.py").write_text(FAKE_BOTO3)
    fetcher = tmp_path / "llm-gateway-fetch-secrets"
    fetcher.write_text(FETCH_SECRETS)
    plan_file = tmp_path / "secrets.json"
    plan_file.write_text(secrets_plan(layout(plan)))
    secrets_file = tmp_path / "fake-secrets.json"
    secrets_file.write_text(json.dumps({arn: value if isinstance(value, str) else json.dumps(value)
                                        for arn, value in secrets.items()}))
    env = {
        "PATH": os.environ["PATH"], "PYTHONPATH": str(fake), "FAKE_SM_REGION": plan.region,
        "FAKE_SM_SECRETS": str(secrets_file), "FAKE_SM_CALLS": str(tmp_path / "calls.log"),
    }
    return subprocess.run([sys.executable, str(fetcher), str(plan_file)], env=env, capture_output=True, text=True)


def with_paths(plan, tmp_path: Path):
    return replace(plan, paths=HostPaths(
        data_dir=str(tmp_path / "data"), config_dir=str(tmp_path / "config"), secrets_dir=str(tmp_path / "secrets"),
        docker_config_dir=str(tmp_path / "docker"),
    ))


def test_fetcher_writes_one_private_env_file_per_service(tmp_path):
    plan = with_paths(PLANS["clickhouse"](), tmp_path)
    arn = plan.secret_arns["clickhouse"]
    result = run_fetcher(tmp_path, plan, {arn: {"user": "FAKEUSER", "password": 'FAKE"pa$s\\word'}})
    assert result.returncode == 0, result.stderr

    env_file = tmp_path / "secrets" / "clickhouse.env"
    assert env_file.read_text() == 'CLICKHOUSE_PASSWORD="FAKE\\"pa\\$s\\\\word"\n'
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(env_file.parent.stat().st_mode) == 0o700
    assert env_file.stat().st_uid == os.getuid()
    assert sorted(p.name for p in env_file.parent.iterdir()) == ["clickhouse.env"]  # no temporary left behind
    assert "FAKE" not in result.stdout + result.stderr


def test_fetcher_reads_each_secret_once_and_never_prints_a_value(tmp_path):
    plan = with_paths(staging_plan(), tmp_path)
    secrets = fake_secrets(plan)
    result = run_fetcher(tmp_path, plan, secrets)
    assert result.returncode == 0, result.stderr

    calls = (tmp_path / "calls.log").read_text().split()
    assert sorted(calls) == sorted(secrets)  # every secret read, each exactly once
    files = sorted(p.name for p in (tmp_path / "secrets").iterdir())
    assert files == sorted(f"{spec.name}.env" for spec in plan.specs if spec.secrets)
    assert all(stat.S_IMODE((tmp_path / "secrets" / name).stat().st_mode) == 0o600 for name in files)
    assert "LEAK" not in result.stdout + result.stderr
    assert result.stdout.strip() == f"llm-gateway: wrote {len(files)} env files from {len(secrets)} secrets"


def test_fetcher_logs_docker_in_to_docker_hub_like_docker_login(tmp_path):
    """The config.json `docker login` writes: `auths` keyed by Docker Hub's index address, each entry's
    `auth` base64 of user:password (docker/cli cli/config/configfile); root-only, on tmpfs."""
    settings = make_settings(compute="ecs", secrets={"dockerHubCredentials": OPERATOR_SECRETS["prod"]["dockerHubCredentials"]})
    plan = with_paths(PLANS["clickhouse"](settings), tmp_path)
    secrets = {**fake_secrets(plan), plan.secret_arns["docker-hub"]: {"username": "FAKEUSER", "password": "dckr_pat_FAKE:x"}}
    result = run_fetcher(tmp_path, plan, secrets)
    assert result.returncode == 0, result.stderr

    config = tmp_path / "docker" / "config.json"
    auth = base64.b64encode(b"FAKEUSER:dckr_pat_FAKE:x").decode()
    assert json.loads(config.read_text()) == {"auths": {"https://index.docker.io/v1/": {"auth": auth}}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.json"]
    assert sorted((tmp_path / "calls.log").read_text().split()) == sorted(secrets)  # each secret read once
    assert "FAKE" not in result.stdout + result.stderr


def test_fetcher_refuses_pull_credentials_without_a_password(tmp_path):
    settings = make_settings(compute="ecs", secrets={"dockerHubCredentials": OPERATOR_SECRETS["prod"]["dockerHubCredentials"]})
    plan = with_paths(PLANS["clickhouse"](settings), tmp_path)
    arn = plan.secret_arns["docker-hub"]
    result = run_fetcher(tmp_path, plan, {**fake_secrets(plan), arn: {"username": "FAKEUSER", "token": "FAKE"}})
    assert result.returncode != 0
    assert f"llm-gateway: secret {arn} has no string key 'password'" in result.stderr
    assert not (tmp_path / "docker" / "config.json").exists() and "FAKE" not in result.stdout + result.stderr


@pytest.mark.parametrize("secret, message", [
    ({"user": "FAKEUSER"}, "has no string key 'password'"),
    ({"password": 424242}, "has no string key 'password'"),
    ("FAKE-not-json", "is not JSON"),
    (["FAKE-a-list"], "is not a JSON object"),
])
def test_fetcher_fails_clearly_without_showing_the_secret(tmp_path, secret, message):
    plan = with_paths(PLANS["clickhouse"](), tmp_path)
    arn = plan.secret_arns["clickhouse"]
    result = run_fetcher(tmp_path, plan, {arn: secret})
    assert result.returncode != 0
    assert f"llm-gateway: secret {arn} {message}" in result.stderr
    assert "FAKE" not in result.stdout + result.stderr and "424242" not in result.stderr
    assert not (tmp_path / "secrets" / "clickhouse.env").exists()


# --- the data volume ------------------------------------------------------------------------------

def run_volume_script(tmp_path: Path, device: Path) -> subprocess.CompletedProcess:
    """The script on a file-backed disk; `mount` and `mountpoint` record instead of mounting."""
    for tool in ("blkid", "mkfs.ext4", "cmp"):
        require_tool(tool)
    fake = tmp_path / "fake-bin"
    fake.mkdir(exist_ok=True)
    (fake / "mount").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/mount.log\n')
    (fake / "mountpoint").write_text("#!/bin/sh\nexit 1\n")  # nothing is mounted yet
    for tool in fake.iterdir():
        tool.chmod(0o755)
    script = tmp_path / "llm-gateway-data-volume"
    script.write_text(DATA_VOLUME)
    (tmp_path / "fstab").touch()
    return subprocess.run(
        ["bash", str(script), str(device), str(tmp_path / "data"), str(tmp_path / "fstab")],
        env={"PATH": f"{fake}:{SYSTEM_PATH}"}, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )


def blank_disk(tmp_path: Path) -> Path:
    disk = tmp_path / "disk.img"
    with disk.open("wb") as out:
        out.truncate(32 * 1024 * 1024)  # a new EBS volume reads as zeros
    return disk


def probe(disk: Path, tag: str) -> str:
    return subprocess.run([require_tool("blkid"), "-p", "-s", tag, "-o", "value", str(disk)],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_blank_volume_gets_ext4_and_a_nofail_fstab_entry_by_uuid(tmp_path):
    disk = blank_disk(tmp_path)
    result = run_volume_script(tmp_path, disk)
    assert result.returncode == 0, result.stderr
    assert probe(disk, "TYPE") == "ext4"
    fs_uuid = probe(disk, "UUID")
    target = tmp_path / "data"
    assert (tmp_path / "fstab").read_text() == f"UUID={fs_uuid} {target} ext4 defaults,nofail 0 2\n"
    assert (tmp_path / "mount.log").read_text() == f"--fstab {tmp_path}/fstab {target}\n"
    assert target.is_dir()

    # Again (a reboot, a re-run): same filesystem, one fstab entry.
    assert run_volume_script(tmp_path, disk).returncode == 0
    assert probe(disk, "UUID") == fs_uuid
    assert (tmp_path / "fstab").read_text().count("UUID=") == 1


@pytest.mark.parametrize("mkfs", ["mkfs.ext4", "mkfs.ext2"])
def test_existing_filesystem_is_never_reformatted(tmp_path, mkfs):
    disk = blank_disk(tmp_path)
    fs_uuid = str(uuid.uuid4())
    subprocess.run([require_tool(mkfs), "-q", "-U", fs_uuid, str(disk)], check=True, stdin=subprocess.DEVNULL)
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    result = run_volume_script(tmp_path, disk)
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before  # not a byte written
    fstype = mkfs.split(".")[1]
    assert (tmp_path / "fstab").read_text() == f"UUID={fs_uuid} {tmp_path / 'data'} {fstype} defaults,nofail 0 2\n"


def test_unrecognised_data_is_left_alone(tmp_path):
    disk = blank_disk(tmp_path)
    with disk.open("r+b") as out:
        out.seek(4096)
        out.write(b"data blkid cannot name, e.g. a half-written or foreign volume")
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    result = run_volume_script(tmp_path, disk)
    assert result.returncode == 1
    assert "not formatting it" in result.stderr
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before
    assert (tmp_path / "fstab").read_text() == ""
    assert not (tmp_path / "mount.log").exists()
