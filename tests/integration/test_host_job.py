"""The compose host's job command (renderers/compose_host/jobs.py host_job_commands) as the host runs it: the rendered
script under dash (AWS-RunShellScript runs /bin/sh, dash on Ubuntu), in its own process group (the
SSM agent starts it with Setpgid), against a real systemd for the unit it waits on.

docker is a stub that records its calls (no container runs here). systemd runs as a user manager in
a private mount namespace with its own /run (no systemd is PID 1 here): the same service state
machine (src/core/service.c) that a host's system manager runs, for a unit with the rendered unit's
start and restart settings.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from components.ecs_platform import TEAM_PLANE_JOB
from renderers.compose_host.jobs import host_job_commands
from renderers.compose_host.layout import layout
from renderers.compose_host.user_data import UNIT, unit
from services.jobs import on_demand_jobs
from tests.integration.test_cloud_init_schema import require_tool
from tests.support.hosts import staging_plan, staging_specs

pytestmark = pytest.mark.integration

JOB = on_demand_jobs(staging_specs())[TEAM_PLANE_JOB]
SECRET_SQL = "INSERT ... 'sk-lf-secret' ..."


def stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)


@pytest.fixture
def host(tmp_path):
    """A scratch directory holding a secret, a docker stub recording its calls whose plan step writes
    the SQL and then runs until it is stopped, and the rendered script."""
    scratch, bin_dir = tmp_path / "scratch", tmp_path / "bin"
    scratch.mkdir()
    bin_dir.mkdir()
    stub(bin_dir / "docker", f"""\
        echo "$*" >> {tmp_path}/docker-calls
        case "$*" in
          *" run --rm --no-deps team-plane-plan")
            echo "{SECRET_SQL}" > {scratch}/langfuse.sql
            touch {tmp_path}/planning
            [ -z "${{PLAN_FOREVER:-}}" ] || exec sleep 60 ;;
        esac
    """)
    script = tmp_path / "job.sh"
    script.write_text("\n".join(host_job_commands(JOB, restart_after=("litellm",), scratch=(str(scratch),))) + "\n")
    return tmp_path


def docker_calls(directory: Path) -> list[str]:
    calls = directory / "docker-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- a cancelled command: its scratch files with secret keys must not survive ---------------------

@pytest.mark.parametrize("stop, status", [
    (signal.SIGTERM, 143),  # a shutdown, the agent's own stop: dash runs no EXIT trap on an untrapped signal
    (signal.SIGKILL, -9),  # SSM's cancel and execution timeout (amazon-ssm-agent executers_unix.go killProcess)
])
def test_a_stopped_command_leaves_no_secret_behind(host, stop, status):
    dash = require_tool("dash")
    stub(host / "bin" / "systemctl", "exit 0\n")  # the services are up
    command = subprocess.Popen([dash, str(host / "job.sh")], start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={"PATH": f"{host}/bin:/usr/bin:/bin", "PLAN_FOREVER": "1"})
    try:
        assert wait_for((host / "planning").exists), "the plan step did not start"
        assert (host / "scratch" / "langfuse.sql").read_text().strip() == SECRET_SQL
        os.killpg(command.pid, stop)  # the whole group, as SSM and a shutdown do
        assert command.wait(timeout=10) == status
        assert wait_for(lambda: not list((host / "scratch").iterdir())), "the secret SQL survived the stop"
        # The step's container outlives its `docker compose run`: it is stopped too.
        assert wait_for(lambda: any(call.endswith(" kill team-plane-plan team-plane-apply team-plane-verify")
                                    for call in docker_calls(host)))
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
            command.wait()


def test_a_command_that_ends_leaves_the_containers_alone(host):
    stub(host / "bin" / "systemctl", "exit 0\n")
    result = subprocess.run([require_tool("dash"), str(host / "job.sh")], env={"PATH": f"{host}/bin:/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert not list((host / "scratch").iterdir())
    time.sleep(0.5)  # the watcher has read "done" and left
    assert not [call for call in docker_calls(host) if " kill " in call]


# --- a host whose services cannot start: the command gives up at once ----------------------------

UNIT_SETTINGS = ("Type", "RemainAfterExit", "Restart", "RestartSec", "TimeoutStartSec")


def unit_like_the_hosts(exec_start: str) -> str:
    """The rendered unit's start and restart settings with another ExecStart, and RestartSec 3 s
    instead of 30 so that a test sees restarts within seconds. Like 30 s, 3 s keeps systemd's default
    start limit (5 starts within 10 s, which would end the loop as `failed`) out of reach."""
    rendered = dict(line.split("=", 1) for line in unit(layout(staging_plan())).splitlines()
                    if line.split("=", 1)[0] in UNIT_SETTINGS)
    assert (rendered["Type"], rendered["Restart"], rendered["RestartSec"]) == ("oneshot", "on-failure", "30")
    settings = "".join(f"{key}={value}\n" for key, value in {**rendered, "RestartSec": "3"}.items())
    return f"[Unit]\nDescription=llm-gateway (test)\n\n[Service]\n{settings}ExecStart={exec_start}\n"


@contextmanager
def own_cgroups() -> Iterator[list[Path]]:
    """A new cgroup in each hierarchy systemd keeps its units in (the v2 one, and the named v1 one of a
    hybrid layout), removed afterwards. A user manager puts its units under the cgroup it starts in,
    and at the hierarchy's root when that is /init.scope (every process's here): two managers at once
    (another worker's test, another test run on the machine) would share `app.slice/<unit>`, and the
    one stopping would wait for the other's processes to leave it."""
    mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    roots = [Path(point) for _, point, kind, options, *_ in mounts
             if kind == "cgroup2" or (kind == "cgroup" and "name=systemd" in options.split(","))]
    name = f"llm-gateway-test-{uuid.uuid4().hex[:12]}"  # the same in each: systemd mirrors one path in both
    created = [root / name for root in roots]
    try:
        for cgroup in created:
            cgroup.mkdir()
        yield created
    finally:
        for cgroup in created:
            for directory, _, _ in sorted(os.walk(cgroup), reverse=True):  # the deepest first
                wait_for(lambda directory=directory: _removed(directory), seconds=5)


def _removed(cgroup: str) -> bool:
    """rmdir, which a cgroup refuses while a process (an exiting one too) is in it."""
    with suppress(OSError):
        os.rmdir(cgroup)
    return not os.path.exists(cgroup)


def run_against_systemd(directory: Path, unit: str, timeout: float) -> subprocess.CompletedProcess:
    """Start `unit` under a real systemd (a user manager in a private mount namespace with its own
    /run and its own cgroups), then run the job script under dash with `systemctl` talking to that
    manager."""
    if os.geteuid() != 0:
        pytest.fail("needs root (a private mount namespace for systemd's /run); CI runs as root", pytrace=False)
    dash, unshare, systemctl = require_tool("dash"), require_tool("unshare"), require_tool("systemctl")
    manager = next((path for path in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd") if os.path.exists(path)), None)
    if manager is None:
        pytest.fail("systemd is not installed: run scripts/install-system-deps.sh", pytrace=False)
    for name in ("home", "runtime", "config/systemd/user"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    (directory / "runtime").chmod(0o700)
    (directory / "config/systemd/user/idle.target").write_text("[Unit]\nDescription=nothing\nDefaultDependencies=no\n")
    (directory / "config/systemd/user" / UNIT).write_text(unit)
    stub(directory / "bin" / "systemctl", f'exec {systemctl} --user "$@"\n')
    # The script polls the unit every 10 s; here every second: when it looks is not under test, what it
    # sees and does is.
    stub(directory / "bin" / "sleep", f'[ "$*" = 10 ] && set -- 1\nexec {require_tool("sleep")} "$@"\n')
    with own_cgroups() as cgroups:
        return _run_driver(directory, cgroups, manager, dash, unshare, systemctl, timeout)


def _run_driver(directory: Path, cgroups: list[Path], manager: str, dash: str, unshare: str, systemctl: str,
                timeout: float) -> subprocess.CompletedProcess:
    driver = directory / "driver.sh"
    driver.write_text(textwrap.dedent(f"""\
        set -e
        for cgroup in {" ".join(map(str, cgroups))}; do echo $$ > "$cgroup/cgroup.procs"; done
        mount -t tmpfs tmpfs /run
        mkdir -p /run/systemd/system
        export HOME={directory}/home XDG_RUNTIME_DIR={directory}/runtime XDG_CONFIG_HOME={directory}/config
        {manager} --user --unit=idle.target --log-target=null &
        trap 'kill $!; wait $!' EXIT
        for _ in $(seq 100); do [ -S "$XDG_RUNTIME_DIR/systemd/private" ] && break; sleep 0.1; done
        {systemctl} --user start --no-block {UNIT}
        PATH={directory}/bin:/usr/bin:/bin {dash} {directory}/job.sh
    """))
    process = subprocess.Popen([unshare, "--mount", "--propagation", "private", dash, str(driver)],
                               start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"the job script or systemd was still running after {timeout} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_crash_looping_unit_fails_the_command_at_once(host):
    """systemd reports a unit whose start keeps failing `activating (auto-restart)`, never `failed`:
    the command must not wait its 1,500 s for it."""
    started = time.monotonic()
    result = run_against_systemd(host, unit_like_the_hosts("/bin/sh -c 'echo broken >&2; exit 1'"), timeout=60)
    assert result.returncode == 1, result.stderr
    retried = re.search(rf"{UNIT} is not active \(its start was retried (\d+) times\)", result.stderr)
    assert retried and int(retried.group(1)) >= 2, result.stderr
    assert "activating (auto-restart)" in result.stdout  # the unit's status, for the operator
    assert not docker_calls(host) and time.monotonic() - started < 60


def test_a_start_retried_once_is_waited_for(host):
    """One failed start is a transient error the unit retries: the command waits, then runs the job."""
    once = host / "failed-once"
    result = run_against_systemd(
        host, unit_like_the_hosts(f"/bin/sh -c '[ -e {once} ] || {{ touch {once}; exit 1; }}'"), timeout=60)
    assert result.returncode == 0, result.stderr
    runs = [call.rsplit(" ", 1)[-1] for call in docker_calls(host) if " run --rm --no-deps " in call]
    assert runs == ["team-plane-plan", "team-plane-apply", "team-plane-verify"]
