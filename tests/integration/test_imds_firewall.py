"""The EC2 host's IMDS firewall (renderers/compose_host/imds.py), run for real: the rendered docker.service drop-in on
iptables in throwaway network namespaces shaped like the host.

`host` forwards between a bridge on the project subnet (docker's bridge: the containers' gateway)
and a link to `imds`, which holds 169.254.169.254 and answers TCP on port 80. A `containers`
namespace on the bridge holds the address of each staging service; each one connects to the IMDS
from its own address. Docker's part is stood in for by what it guarantees: a `DOCKER-USER` chain
jumped to first from FORWARD. Nothing touches the machine's own network namespace.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from renderers.compose_host.imds import GATEWAY, METADATA_ADDRESS, SUBNET, container_addresses, render_drop_in
from tests.integration.test_cloud_init_schema import require_tool
from tests.support.hosts import staging_specs

pytestmark = pytest.mark.integration

PORT = 80


def start_docker(run, namespace: str) -> None:
    """What systemd runs before dockerd: the drop-in's ExecStartPre lines, in order."""
    for line in render_drop_in(staging_specs()).splitlines():
        if line.startswith("ExecStartPre="):
            run(*shlex.split(line.removeprefix("ExecStartPre=")), namespace=namespace)


def docker_started(namespace: str) -> subprocess.CompletedProcess:
    """What systemd runs once dockerd is up: the drop-in's ExecStartPost lines, in order, stopping at
    the first that fails (systemd then stops dockerd)."""
    result = subprocess.CompletedProcess((), 0, "", "")
    for line in render_drop_in(staging_specs()).splitlines():
        if line.startswith("ExecStartPost=") and result.returncode == 0:
            result = subprocess.run(["ip", "netns", "exec", namespace, *shlex.split(line.removeprefix("ExecStartPost="))],
                                    capture_output=True, text=True)
    return result


def docker_iptables_backend(run, namespace: str) -> None:
    """Docker's part with its iptables backend, as its docs promise: DOCKER-USER, jumped to first from FORWARD."""
    run("sh", "-c", "iptables -n -L DOCKER-USER >/dev/null 2>&1 || iptables -N DOCKER-USER", namespace=namespace)
    run("iptables", "-I", "FORWARD", "-j", "DOCKER-USER", namespace=namespace)
    run("iptables", "-A", "FORWARD", "-j", "ACCEPT", namespace=namespace)  # docker accepts its bridges' egress


def connects(namespace: str, source: str, timeout: float = 1.0) -> bool:
    code = textwrap.dedent(f"""
        import socket, sys
        s = socket.socket()
        s.settimeout({timeout})
        s.bind(("{source}", 0))
        try:
            s.connect(("{METADATA_ADDRESS}", {PORT}))
        except OSError:
            sys.exit(1)
    """)
    return subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", code]).returncode == 0


@pytest.fixture
def namespaces():
    if os.geteuid() != 0:
        pytest.fail("needs root (network namespaces and iptables); CI runs as root", pytrace=False)
    for tool in ("ip", "iptables", "iptables-restore"):
        require_tool(tool)
    tag = uuid.uuid4().hex[:6]
    names = {role: f"imds-{role}-{tag}" for role in ("host", "containers", "imds")}
    host, containers, imds = names["host"], names["containers"], names["imds"]

    def run(*command: str, namespace: str | None = None) -> None:
        prefix = ["ip", "netns", "exec", namespace] if namespace else []
        subprocess.run([*prefix, *command], check=True, capture_output=True)

    try:
        for name in names.values():
            run("ip", "netns", "add", name)
        # containers <-> bridge (on host) and host <-> imds
        run("ip", "link", "add", "ctr", "netns", containers, "type", "veth", "peer", "name", "ctr-br", "netns", host)
        run("ip", "link", "add", "out", "netns", host, "type", "veth", "peer", "name", "in", "netns", imds)
        run("ip", "link", "add", "br0", "type", "bridge", namespace=host)
        run("ip", "link", "set", "ctr-br", "master", "br0", namespace=host)
        run("ip", "addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", "br0", namespace=host)
        run("ip", "addr", "add", "192.0.2.1/30", "dev", "out", namespace=host)
        for link in ("lo", "br0", "ctr-br", "out"):
            run("ip", "link", "set", link, "up", namespace=host)
        run("sysctl", "-qw", "net.ipv4.ip_forward=1", namespace=host)
        run("ip", "route", "add", f"{METADATA_ADDRESS}/32", "via", "192.0.2.2", namespace=host)
        run("ip", "addr", "add", "192.0.2.2/30", "dev", "in", namespace=imds)
        run("ip", "addr", "add", f"{METADATA_ADDRESS}/32", "dev", "lo", namespace=imds)
        for link in ("lo", "in"):
            run("ip", "link", "set", link, "up", namespace=imds)
        run("ip", "route", "add", str(SUBNET), "via", "192.0.2.1", namespace=imds)
        for address in container_addresses(staging_specs()).values():
            run("ip", "addr", "add", f"{address}/{SUBNET.prefixlen}", "dev", "ctr", namespace=containers)
        for link in ("lo", "ctr"):
            run("ip", "link", "set", link, "up", namespace=containers)
        run("ip", "route", "add", "default", "via", str(GATEWAY), namespace=containers)
        server = subprocess.Popen(["ip", "netns", "exec", imds, sys.executable, "-c", (
            "import socket\ns = socket.create_server(('" + METADATA_ADDRESS + f"', {PORT}))\n"
            "while True: s.accept()[0].close()"
        )])
        try:
            deadline = time.monotonic() + 10
            while not connects(host, "192.0.2.1"):  # the server is listening
                if time.monotonic() > deadline:
                    pytest.fail("the stand-in metadata service did not start")
            yield names, run
        finally:
            server.kill()
            server.wait()
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_only_the_aws_callers_reach_the_metadata_service(namespaces):
    names, run = namespaces
    host, containers = names["host"], names["containers"]
    specs = staging_specs()
    addresses = container_addresses(specs)
    # Without the rules every container reaches it: the test can tell the two apart.
    assert connects(containers, addresses["clickhouse"])

    docker_iptables_backend(run, host)
    for _ in range(2):  # every start of docker runs it again
        start_docker(run, host)
        assert docker_started(host).returncode == 0

    reached = {name for name, address in addresses.items() if connects(containers, address)}
    assert reached == {spec.name for spec in specs if spec.aws_identity}
    assert reached == {"litellm", "langfuse-web", "langfuse-worker", "team-plane-plan", "team-plane-verify", "team-plane-smoke"}
    # The host's own processes (secrets fetcher, awslogs, SSM agent) do not cross FORWARD.
    assert connects(host, "192.0.2.1")

    saved = subprocess.run(["ip", "netns", "exec", host, "iptables", "-S"], check=True, capture_output=True, text=True).stdout
    assert saved.count(f"-A DOCKER-USER -d {METADATA_ADDRESS}/32 -j LLM-GATEWAY-IMDS") == 1
    assert saved.count("-A LLM-GATEWAY-IMDS -j DROP") == 1


def test_the_rules_also_install_before_docker_made_its_chain(namespaces):
    """The drop-in runs before dockerd made its chain: it creates DOCKER-USER, which docker keeps."""
    names, run = namespaces
    start_docker(run, names["host"])
    chain = subprocess.run(["ip", "netns", "exec", names["host"], "iptables", "-S", "DOCKER-USER"],
                           check=True, capture_output=True, text=True).stdout
    assert chain.splitlines() == ["-N DOCKER-USER", f"-A DOCKER-USER -d {METADATA_ADDRESS}/32 -j LLM-GATEWAY-IMDS"]


def test_docker_is_stopped_when_forwarded_traffic_would_bypass_the_guard(namespaces):
    """dockerd with its nftables backend (Docker 29, opt-in) never jumps to DOCKER-USER, nor does one
    that could not arrange the jump (it only logs a warning): the check after its start fails, and
    systemd stops dockerd and its containers. So does a guard emptied of our jump."""
    names, run = namespaces
    host, containers = names["host"], names["containers"]
    clickhouse = container_addresses(staging_specs())["clickhouse"]
    start_docker(run, host)
    run("iptables", "-A", "FORWARD", "-j", "ACCEPT", namespace=host)  # the backend's own accept, outside DOCKER-USER
    assert connects(containers, clickhouse)  # what it would mean: a container reaching the metadata service
    refused = docker_started(host)
    assert refused.returncode != 0 and "does not pass the IMDS guard" in refused.stderr

    docker_iptables_backend(run, host)
    assert docker_started(host).returncode == 0 and not connects(containers, clickhouse)
    run("iptables", "-F", "DOCKER-USER", namespace=host)
    assert docker_started(host).returncode != 0
