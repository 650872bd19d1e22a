"""Deploy-time jobs as data: one or more one-off steps that run in order as one unit.

On ECS a job is one task: each step is a container that starts when the previous one exited 0
(`dependsOn` SUCCESS), the steps share the job's volumes as the task's scratch storage, and the
job succeeds when its last step exits 0. On a compose host a job is one command that runs the
steps one after another in the same order, with the same scratch volumes. A single one-off spec
(db-init, a migrator) is a job of one step.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderers.compose_host.compose_file import ON_DEMAND_PROFILE, HostPaths
from reference.fargate import smallest_fargate_size
from services.specs import ServiceSpec, Volume, deadline_of
from renderers.compose_host.user_data import COMPOSE_FILE, UNIT

# What a job spends outside its steps' own deadlines (services/specs.py `step_deadline`), so that
# the runner's timeout never fires before a step's own deadline and hides the step's exit code.
# Fargate: from RunTask to the first container's start (an ENI, then every image of the task pulled
# through the NAT gateway; no Fargate cache) and from the last exit to STOPPED.
FARGATE_TASK_START_SECONDS = 300
FARGATE_TASK_STOP_SECONDS = 60
# A step's own start once the previous one exited: the container, and the bootstrap's S3 read.
STEP_START_SECONDS = 30
# The runner's timeout for a job whose steps keep no deadline (migrations, db-init).
UNBOUNDED_JOB_SECONDS = 900
# On a compose host: how long the command waits for the host's services (a new host boots, installs
# packages, pulls and migrates first: the unit's own `up --wait` takes up to 900 s of that), how
# long LiteLLM's recreation may take to turn healthy (its start period 90 s, then checks 30 s
# apart), and what SSM Run Command itself takes around the script.
HOST_READY_SECONDS = 1500
HOST_RECREATE_SECONDS = 300
HOST_COMMAND_MARGIN_SECONDS = 60
# The host's unit restarts on failure (renderers/compose_host/user_data.py): one restart is a transient error
# retried, a second a crash loop, which systemd reports `activating`, never `failed`.
HOST_UNIT_RESTARTS = 2


@dataclass(frozen=True)
class JobSpec:
    name: str
    steps: tuple[ServiceSpec, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"job {self.name} has no steps")
        if not all(step.one_off for step in self.steps):
            raise ValueError(f"job {self.name}: every step must be a one-off")
        if len({step.name for step in self.steps}) != len(self.steps):
            raise ValueError(f"job {self.name}: step names repeat")
        if len({deadline_of(step) is None for step in self.steps}) > 1:
            raise ValueError(f"job {self.name}: either every step keeps its own deadline or none does")

    @property
    def steps_seconds(self) -> int | None:
        """The steps' own deadlines and their starts, end to end; None when the steps keep none."""
        deadlines = [deadline_of(step) for step in self.steps]
        return None if None in deadlines else sum(deadline + STEP_START_SECONDS for deadline in deadlines)

    @property
    def timeout_seconds(self) -> int:
        """How long the runner waits for the job's task on Fargate, from RunTask to STOPPED."""
        steps = self.steps_seconds
        if steps is None:
            return UNBOUNDED_JOB_SECONDS
        return FARGATE_TASK_START_SECONDS + steps + FARGATE_TASK_STOP_SECONDS

    @property
    def last(self) -> ServiceSpec:
        """The step whose exit code is the job's."""
        return self.steps[-1]

    @property
    def size(self) -> tuple[int, int]:
        """CPU units and MiB of the task: the steps run one at a time, so the smallest Fargate size that
        holds the largest step's CPU and the largest step's memory (the two maxima alone may be a pair
        Fargate refuses, e.g. 8192 CPU with 17408 MiB)."""
        return smallest_fargate_size(max(step.cpu or 0 for step in self.steps), max(step.memory or 0 for step in self.steps))

    @property
    def volumes(self) -> tuple[Volume, ...]:
        """Every volume a step mounts, once (by name): the steps' shared scratch space."""
        return tuple({volume.name: volume for step in self.steps for volume in step.volumes}.values())

    @property
    def images(self) -> frozenset[str]:
        return frozenset(step.image for step in self.steps)


def single(spec: ServiceSpec) -> JobSpec:
    """A one-off spec as a job of one step."""
    return JobSpec(spec.name, (spec,))


def host_job_seconds(job: JobSpec) -> int:
    """How long a compose host's command for `job` may run (SSM's executionTimeout): the wait for the
    host's services, the steps' own deadlines and starts, the recreation, SSM's own margin."""
    steps = job.steps_seconds
    if steps is None:
        raise ValueError(f"job {job.name}: a host command needs every step's own deadline")
    return HOST_READY_SECONDS + steps + HOST_RECREATE_SECONDS + HOST_COMMAND_MARGIN_SECONDS


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
    """Where a compose host keeps the job's scratch volumes (tmpfs, renderers/compose_host/compose_file.py)."""
    return tuple((paths or HostPaths()).volume(volume.name, scratch=True) for volume in job.volumes)
