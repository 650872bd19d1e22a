"""Deploy-time jobs as data: one or more one-off steps that run in order as one unit.

On ECS a job is one task: each step is a container that starts when the previous one exited 0
(`dependsOn` SUCCESS), the steps share the job's volumes as the task's scratch storage, and the
job succeeds when its last step exits 0. On a compose host a job is one command that runs the
steps one after another in the same order, with the same scratch volumes. A single one-off spec
(db-init, a migrator) is a job of one step.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.compose import ON_DEMAND_PROFILE, HostPaths
from config.fargate import smallest_fargate_size
from config.services import ServiceSpec, Volume
from config.user_data import COMPOSE_FILE, UNIT

# How long a host's command waits for its services (a new host boots, pulls and migrates first).
HOST_READY_SECONDS = 1500


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


def host_job_commands(job: JobSpec, restart_after: tuple[str, ...] = (), scratch: tuple[str, ...] = ()) -> list[str]:
    """The shell lines a compose host runs for `job` (SSM Run Command, components/host_command.py):
    wait until the host's services are up (or give up at once when their unit failed), run each step
    in order (`docker compose run`, the on-demand profile), stopping at the first step that fails
    before the last one. The last step reports (the team plane's per-team verdicts): whatever it
    reports, `restart_after` is recreated (services that read what the earlier steps changed at their
    start, so teams that did reconcile take effect), then the command exits with the report's status.
    `scratch`: host directories emptied on every exit (the team plane's SQL holds secret keys)."""
    compose = f"docker compose --file {COMPOSE_FILE} --profile {ON_DEMAND_PROFILE}"
    *steps, last = job.steps
    lines = ["set -eu"]
    if scratch:
        lines.append(f"trap 'rm -rf {' '.join(f'{d}/*' for d in scratch)}' EXIT")
    lines += [
        f"deadline=$(( $(date +%s) + {HOST_READY_SECONDS} ))",
        f"until systemctl is-active --quiet {UNIT}; do",
        f'  if systemctl is-failed --quiet {UNIT} || [ "$(date +%s)" -ge "$deadline" ]; then',
        f"    systemctl status {UNIT} --no-pager || true",
        f'    echo "llm-gateway: {UNIT} is not active" >&2',
        "    exit 1",
        "  fi",
        "  sleep 10",
        "done",
        *(f"{compose} run --rm --no-deps {step.name}" for step in steps),
        "status=0",
        f"{compose} run --rm --no-deps {last.name} || status=$?",
    ]
    if restart_after:
        lines.append(f"{compose} up --detach --no-deps --force-recreate --wait {' '.join(restart_after)}")
    lines.append('exit "$status"')
    return lines


def job_scratch_dirs(job: JobSpec, paths: HostPaths | None = None) -> tuple[str, ...]:
    """Where a compose host keeps the job's scratch volumes (tmpfs, config/compose.py)."""
    return tuple((paths or HostPaths()).volume(volume.name, scratch=True) for volume in job.volumes)
