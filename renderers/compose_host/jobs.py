"""A deploy job on a compose host: one command, run over SSM Run Command (components/host_command.py),
that runs the job's steps in order with `docker compose run` once the host's services are up.
"""

from __future__ import annotations

from renderers.compose_host.compose_file import ON_DEMAND_PROFILE
from renderers.compose_host.layout import HostPaths
from renderers.compose_host.user_data import COMPOSE_FILE, UNIT
from services.jobs import JobSpec

# How long the command waits for the host's services (a new host boots, installs
# packages, pulls and migrates first: the unit's own `up --wait` takes up to 900 s of that), how
# long LiteLLM's recreation may take to turn healthy (its start period 90 s, then checks 30 s
# apart), and what SSM Run Command itself takes around the script.
HOST_READY_SECONDS = 1500
HOST_RECREATE_SECONDS = 300
HOST_COMMAND_MARGIN_SECONDS = 60
# The host's unit restarts on failure (renderers/compose_host/user_data.py): one restart is a
# transient error retried, a second a crash loop, which systemd reports `activating`, never `failed`.
HOST_UNIT_RESTARTS = 2


def host_job_seconds(job: JobSpec, restart_after: tuple[str, ...] = ()) -> int:
    """How long a compose host's command for `job` may run (SSM's executionTimeout): the wait for the
    host's services, the steps' own deadlines and starts, the recreation of `restart_after` (as
    host_job_commands is given it), SSM's own margin."""
    steps = job.steps_seconds
    if steps is None:
        raise ValueError(f"job {job.name}: a host command needs every step's own deadline")
    return HOST_READY_SECONDS + steps + (HOST_RECREATE_SECONDS if restart_after else 0) + HOST_COMMAND_MARGIN_SECONDS


def host_job_commands(job: JobSpec, restart_after: tuple[str, ...] = (), scratch: tuple[str, ...] = ()) -> list[str]:
    """The shell lines a compose host runs for `job` (SSM Run Command, components/host_command.py;
    /bin/sh, which is dash on Ubuntu): wait until the host's services are up (or give up at once
    when their unit failed or crash-loops), run each step in order (`docker compose run`, the
    on-demand profile), stopping at the first step that fails before the last one. The last step
    reports (the team plane's per-team verdicts): whatever it reports, `restart_after` is recreated
    (services that read what the earlier steps changed at their start, so teams that did reconcile
    take effect), then the command exits with the report's status. `scratch`: host directories
    emptied however the command ends (the team plane's SQL holds secret keys)."""
    compose = f"docker compose --file {COMPOSE_FILE} --profile {ON_DEMAND_PROFILE}"
    *steps, last = job.steps
    lines = ["set -eu", *(_scratch_guard(compose, job, scratch) if scratch else ())]
    lines += [
        f"deadline=$(( $(date +%s) + {HOST_READY_SECONDS} ))",
        f"until systemctl is-active --quiet {UNIT}; do",
        # While its start fails and is retried the unit is `activating (auto-restart)`, never
        # `failed` (systemd src/core/service.c, state_translation_table): its restart count tells.
        f"  restarts=$(systemctl show --property NRestarts --value {UNIT} 2>/dev/null) || restarts=0",
        f'  if systemctl is-failed --quiet {UNIT} || [ "${{restarts:-0}}" -ge {HOST_UNIT_RESTARTS} ] \\',
        '      || [ "$(date +%s)" -ge "$deadline" ]; then',
        f"    systemctl status {UNIT} --no-pager || true",
        f'    echo "llm-gateway: {UNIT} is not active (its start was retried ${{restarts:-0}} times)" >&2',
        "    exit 1",
        "  fi",
        "  sleep 10",
        "done",
        *(f"{compose} run --rm --no-deps {step.name}" for step in steps),
        "status=0",
        f"{compose} run --rm --no-deps {last.name} || status=$?",
    ]
    if restart_after:
        lines.append(f"{compose} up --detach --no-deps --force-recreate --wait --wait-timeout {HOST_RECREATE_SECONDS} "
                     f"{' '.join(restart_after)}")
    lines.append('exit "$status"')
    return lines


def _scratch_guard(compose: str, job: JobSpec, scratch: tuple[str, ...]) -> list[str]:
    """Empties `scratch` however the script ends. On exit, and on the signals a shutdown sends (dash
    runs no EXIT trap on a signal it does not trap), the script does it itself. SSM cancels and
    times out a command with SIGKILL to its whole process group (amazon-ssm-agent
    agent/executers/executers_unix.go `killProcess`), which no trap survives: a watcher in its own
    session holds the read end of a pipe (opened before it starts, so it cannot miss the end) whose
    write end only the script's group holds. When the pipe closes without the script's "done", the
    watcher stops the steps' containers (which outlive their `docker compose run`) and empties
    `scratch`."""
    empty = f"rm -rf {' '.join(f'{directory}/*' for directory in scratch)}"
    steps = " ".join(step.name for step in job.steps)
    watcher = f'read -r end <&4 || end=; [ "$end" = done ] || {{ {compose} kill {steps}; {empty}; }}'
    return [
        "guard=$(mktemp -d)",
        'mkfifo "$guard/pipe"',
        'exec 3<>"$guard/pipe" 4<"$guard/pipe"',
        'rm -rf "$guard"',
        f"setsid sh -c '{watcher}' 3>&- </dev/null >/dev/null 2>&1 &",
        "exec 4<&-",
        f"trap '{empty}; [ -n \"${{stopped:-}}\" ] || echo done >&3' EXIT",
        *(f"trap 'stopped=1; exit {128 + number}' {name}" for name, number in (("HUP", 1), ("INT", 2), ("TERM", 15))),
    ]


def job_scratch_dirs(job: JobSpec, paths: HostPaths | None = None) -> tuple[str, ...]:
    """Where a compose host keeps the job's scratch volumes (tmpfs, renderers/compose_host/layout.py)."""
    return tuple((paths or HostPaths()).volume(volume.name, scratch=True) for volume in job.volumes)
