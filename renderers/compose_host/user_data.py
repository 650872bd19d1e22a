"""Stage 4 of a compose host's boot (renderers/compose_host/boot.py): the cloud-init user data
(Ubuntu 24.04 LTS, arm64, EC2), from the host's layout (stage 1), its IMDS firewall (stage 2) and
its compose file (stage 3).

At first boot cloud-init installs docker and compose from Ubuntu's own archive (the mirror named in
renderers/compose_host/boot_needs.py, which the host's security group allows), prepares the data
EBS volume (an ext4 filesystem only when the volume is blank, never a reformat), writes the
compose file, the services' config files, the secrets fetcher and its input, and enables
`llm-gateway.service`. That unit does the rest on every boot: it refuses to start without the
data volume, creates the volume directories, writes each service's secret env file from Secrets
Manager, and brings the project up with `docker compose up --wait`.

The user data holds ARNs, names and plain config only; secret values exist on the host only in
root-only env files on tmpfs and in the containers. Files travel as plain text when the document
fits EC2's 16 KB limit, else all gzip+base64 (a stack with many teams: the proxy config grows).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from typing import TYPE_CHECKING

from renderers.compose_host import literal_yaml
from renderers.compose_host.boot_needs import apt_config
from renderers.compose_host.imds import DOCKER_DROP_IN

if TYPE_CHECKING:
    from renderers.compose_host.imds import ImdsGuard
    from renderers.compose_host.layout import ComposeHostPlan, HostLayout

PACKAGES = ("docker.io", "docker-compose-v2", "python3-boto3")  # Ubuntu's archive, no third-party repos
# EC2 refuses more than 16384 bytes of user data, counted raw, before the base64 encoding the API
# carries ("User data is limited to 16 KB, in raw form, before it is base64-encoded", EC2 User
# Guide, instancedata-add-user-data.html; RunInstances answers "User data is limited to 16384
# bytes"). The provider sends `user_data` as its UTF-8 bytes, base64-encoded: what counts is
# len(document.encode()) of the whole document, the versions comment included.
USER_DATA_LIMIT = 16 * 1024
UNIT = "llm-gateway.service"
UNIT_FILE = f"/etc/systemd/system/{UNIT}"
COMPOSE_FILE = "/etc/llm-gateway/compose.yaml"
SECRETS_PLAN = "/etc/llm-gateway/secrets.json"
FETCHER = "/usr/local/sbin/llm-gateway-fetch-secrets"
DATA_VOLUME_SCRIPT = "/usr/local/sbin/llm-gateway-data-volume"
DISK_METRICS_SCRIPT = "/usr/local/sbin/llm-gateway-disk-metrics"
DISK_METRICS_TIMER = "llm-gateway-disk-metrics.timer"
FSTAB = "/etc/fstab"
# Image pulls on a new host plus Langfuse's migrations (its start period alone is 240 s).
WAIT_TIMEOUT_SECONDS = 900
START_TIMEOUT_SECONDS = 1800
STOP_MARGIN_SECONDS = 60
_VOLUME_ID = re.compile(r"^vol-[0-9a-f]{8,17}$")

# Reads each secret once, writes each env file root-only and atomically, never prints a value.
# The env file syntax is docker compose's: inside double quotes it expands \\ \" \$ \n \r and
# `$$` (the same in every compose v2), so any value reaches the container byte for byte.
FETCH_SECRETS = r'''#!/usr/bin/python3
"""Write the llm-gateway services' secret env files from AWS Secrets Manager.

Usage: llm-gateway-fetch-secrets PLAN, where PLAN (JSON, ARNs only) is
{"region": ..., "env_files": {path: [{"env": ..., "secret_arn": ..., "key": ...}, ...]},
 "docker_config": {"path": ..., "auths": {registry: secret_arn}}} (docker_config optional; each
secret holds {"username", "password"}).
"""
import base64
import json
import os
import sys
import tempfile

import boto3

ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r"})


def env_line(name, value):
    return f'{name}="{value.translate(ESCAPES)}"\n'


def read_secret(client, arn):
    try:
        secret = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    except ValueError:
        sys.exit(f"llm-gateway: secret {arn} is not JSON")
    if not isinstance(secret, dict):
        sys.exit(f"llm-gateway: secret {arn} is not a JSON object")
    return secret


def write_private(path, text):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".env-")  # mode 0600
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(plan_path):
    os.umask(0o077)
    with open(plan_path) as plan_file:
        plan = json.load(plan_file)
    client = boto3.client("secretsmanager", region_name=plan["region"])
    secrets = {}

    def value(arn, key):
        if arn not in secrets:
            secrets[arn] = read_secret(client, arn)
        found = secrets[arn].get(key)
        if not isinstance(found, str):
            sys.exit(f"llm-gateway: secret {arn} has no string key {key!r}")
        return found

    for path, variables in sorted(plan["env_files"].items()):
        lines = [env_line(v["env"], value(v["secret_arn"], v["key"])) for v in variables]
        write_private(path, "".join(lines))
    if "docker_config" in plan:
        # What `docker login` stores: base64 of user:password per registry (docker/cli configfile).
        auths = {
            registry: {"auth": base64.b64encode(f"{value(arn, 'username')}:{value(arn, 'password')}".encode()).decode()}
            for registry, arn in sorted(plan["docker_config"]["auths"].items())
        }
        write_private(plan["docker_config"]["path"], json.dumps({"auths": auths}, indent=1) + "\n")
    print(f"llm-gateway: wrote {len(plan['env_files'])} env files from {len(secrets)} secrets")


if __name__ == "__main__":
    main(sys.argv[1])
'''

DATA_VOLUME = r'''#!/bin/bash
# Prepare the data EBS volume: wait for it, give it an ext4 filesystem only when it is blank,
# add it to fstab by UUID (nofail) and mount it. Idempotent; never reformats.
# Usage: llm-gateway-data-volume DEVICE MOUNT_POINT FSTAB
set -euo pipefail
device=$1 target=$2 fstab=$3

# The volume is attached after the instance starts: wait for it rather than race the attachment.
for _ in $(seq 600); do
  [ -e "$device" ] && break
  sleep 1
done
if [ ! -e "$device" ]; then
  echo "llm-gateway: data volume $device did not appear" >&2
  exit 1
fi

# Blank means both: blkid finds no filesystem or partition table (exit 2), and the first MiB
# reads as zeros as on a new EBS volume. Anything else is data, or a doubt: refuse.
status=0
blkid -p "$device" >/dev/null || status=$?
if [ "$status" -eq 2 ] && cmp -s -n 1048576 "$device" /dev/zero; then
  mkfs.ext4 -q -L gateway-data "$device"
elif [ "$status" -ne 0 ]; then
  echo "llm-gateway: $device has no recognisable filesystem but is not blank; not formatting it" >&2
  exit 1
fi

uuid=$(blkid -p -s UUID -o value "$device")
fstype=$(blkid -p -s TYPE -o value "$device")
if [ -z "$uuid" ] || [ -z "$fstype" ]; then
  echo "llm-gateway: $device holds no filesystem with a UUID; not mounting it" >&2
  exit 1
fi
if ! grep -q "^UUID=$uuid " "$fstab"; then
  echo "UUID=$uuid $target $fstype defaults,nofail 0 2" >> "$fstab"
fi
mkdir -p "$target"
mountpoint -q "$target" || mount --fstab "$fstab" "$target"
'''


# The CloudWatch agent is not in Ubuntu's archive (AWS ships its .deb from its own bucket, which the
# hosts do not reach): this publishes the one agent metric the alarms need, `disk_used_percent` as
# df computes Use% (used / (used + available to users)), once a minute, with python3-boto3.
DISK_METRICS = r'''#!/usr/bin/python3
"""Usage: llm-gateway-disk-metrics REGION NAMESPACE HOST MOUNT... (mounts not mounted are skipped)."""
import os
import sys

import boto3


def used_percent(mount):
    stats = os.statvfs(mount)
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    available = stats.f_bavail * stats.f_frsize
    return 100.0 * used / (used + available) if used + available else 0.0


def main(region, namespace, host, *mounts):
    data = [
        {"MetricName": "disk_used_percent", "Unit": "Percent", "Value": round(used_percent(mount), 2),
         "Dimensions": [{"Name": "Host", "Value": host}, {"Name": "Path", "Value": mount}]}
        for mount in mounts if os.path.ismount(mount)
    ]
    if data:
        boto3.client("cloudwatch", region_name=region).put_metric_data(Namespace=namespace, MetricData=data)


if __name__ == "__main__":
    main(*sys.argv[1:])
'''


def data_volume_device(volume_id: str) -> str:
    """The stable NVMe name of an EBS volume on a Nitro instance, whatever device name it was given."""
    if not _VOLUME_ID.match(volume_id):
        raise ValueError(f"not an EBS volume id: {volume_id!r}")
    return f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"


def secrets_plan(host: HostLayout) -> str:
    """The fetcher's input: per env file, which variable comes from which secret ARN and key; and
    the registries compose logs in to, each with its credentials' secret ARN."""
    env_files = {
        path: [{"env": s.env, "secret_arn": s.arn, "key": s.key} for s in variables]
        for path, variables in host.env_files.items()
    }
    document: dict = {"region": host.plan.region, "env_files": env_files}
    if host.registry_auths:
        document["docker_config"] = {"path": f"{host.plan.paths.docker_config_dir}/config.json",
                                     "auths": dict(host.registry_auths)}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def unit(host: HostLayout) -> str:
    """`llm-gateway.service`: on every boot, the volume directories, the secrets, then `up --wait`."""
    data_dir = host.plan.paths.data_dir
    directories = ""
    for path, owner in host.volume_dirs.items():
        uid, gid = owner.split(":")
        directories += f"ExecStartPre=/usr/bin/install -d -o {uid} -g {gid} -m 0750 {path}\n"
    compose = f"/usr/bin/docker compose --file {COMPOSE_FILE}"
    # The docker CLI reads its config (registry logins) from $DOCKER_CONFIG (docker/cli
    # cli/config/config.go); compose itself stays in the system plugin directory.
    docker_config = f"Environment=DOCKER_CONFIG={host.plan.paths.docker_config_dir}\n" if host.registry_auths else ""
    # Compose stops dependants first, so the sum of the grace periods bounds a full stop.
    stop_timeout = sum(service.spec.stop_timeout for service in host.services) + STOP_MARGIN_SECONDS
    return f"""\
[Unit]
Description=llm-gateway containers (docker compose)
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target
RequiresMountsFor={data_dir}

[Service]
Type=oneshot
RemainAfterExit=yes
# Never start on the root volume: no data volume, no start.
ExecStartPre=/usr/bin/mountpoint -q {data_dir}
{directories}ExecStartPre={FETCHER} {SECRETS_PLAN}
ExecStart={compose} up --detach --remove-orphans --wait --wait-timeout {WAIT_TIMEOUT_SECONDS}
ExecStop={compose} down
# A transient failure at boot (registry, Secrets Manager, a slow migration) retries, not strands.
Restart=on-failure
RestartSec=30
TimeoutStartSec={START_TIMEOUT_SECONDS}
TimeoutStopSec={stop_timeout}
{docker_config}
[Install]
WantedBy=multi-user.target
"""


def disk_metric_files(plan: ComposeHostPlan) -> list[tuple[str, str, str]]:
    """The publisher, and a timer running it every minute (the data volume and the root volume)."""
    metrics = plan.disk_metrics
    if metrics is None:
        return []
    command = f"{DISK_METRICS_SCRIPT} {plan.region} {metrics.namespace} {metrics.host} {plan.paths.data_dir} /"
    return [
        (DISK_METRICS_SCRIPT, "0755", DISK_METRICS),
        ("/etc/systemd/system/llm-gateway-disk-metrics.service", "0644",
         f"[Unit]\nDescription=llm-gateway disk usage to CloudWatch\n\n[Service]\nType=oneshot\nExecStart={command}\n"),
        (f"/etc/systemd/system/{DISK_METRICS_TIMER}", "0644",
         "[Unit]\nDescription=llm-gateway disk usage to CloudWatch, every minute\n\n"
         "[Timer]\nOnBootSec=2min\nOnUnitActiveSec=1min\n\n[Install]\nWantedBy=timers.target\n"),
    ]


def user_data(host: HostLayout, guard: ImdsGuard, compose_file: str) -> str:
    """Stage 4: the `#cloud-config` document of the host, exactly as it is sent; raises when it would
    exceed EC2's limit."""
    plan = host.plan
    files = [  # path, mode, content
        (DATA_VOLUME_SCRIPT, "0755", DATA_VOLUME),
        (FETCHER, "0755", FETCH_SECRETS),
        (SECRETS_PLAN, "0600", secrets_plan(host)),
        (COMPOSE_FILE, "0644", compose_file),
        *((path, "0644", content) for path, content in host.config_files.items()),
        (UNIT_FILE, "0644", unit(host)),
        (DOCKER_DROP_IN, "0644", guard.drop_in),
        *disk_metric_files(plan),
    ]
    text = _cloud_config(plan, files, compress=False)
    if len(text.encode()) > USER_DATA_LIMIT:
        # Plain text is preferred: readable in the console, and the same bytes whatever zlib renders it.
        text = _cloud_config(plan, files, compress=True)
    size = len(text.encode())
    if size > USER_DATA_LIMIT:
        raise ValueError(f"user data is {size} bytes compressed, over EC2's limit of {USER_DATA_LIMIT}")
    return text


def _versions_comment(plan: ComposeHostPlan) -> str:
    used = sorted({name for spec in plan.specs for name in spec.secret_names})
    return "# secret versions: " + " ".join(f"{name}={plan.secret_versions[name]}" for name in used) + "\n"


def _cloud_config(plan: ComposeHostPlan, files: list[tuple[str, str, str]], *, compress: bool) -> str:
    def entry(path: str, mode: str, content: str) -> dict[str, str]:
        if compress:
            # mtime=0: the same input gives the same bytes, so a preview shows no spurious change.
            packed = base64.b64encode(gzip.compress(content.encode(), mtime=0)).decode()
            return {"path": path, "owner": "root:root", "permissions": mode, "encoding": "gz+b64", "content": packed}
        return {"path": path, "owner": "root:root", "permissions": mode, "content": content}

    document = {
        "apt": apt_config(),
        "package_update": True,
        "packages": list(PACKAGES),
        "write_files": [entry(*file) for file in files],
        "runcmd": [
            [DATA_VOLUME_SCRIPT, data_volume_device(plan.data_volume_id), plan.paths.data_dir, FSTAB],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", UNIT],
            *([["systemctl", "enable", "--now", DISK_METRICS_TIMER]] if plan.disk_metrics else []),
        ],
    }
    return "#cloud-config\n" + literal_yaml.dump(document) + (_versions_comment(plan) if plan.secret_versions else "")
