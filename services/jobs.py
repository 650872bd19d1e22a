"""Deploy-time jobs as data: one or more one-off steps that run in order as one unit.

On ECS a job is one task: each step is a container that starts when the previous one exited 0
(`dependsOn` SUCCESS), the steps share the job's volumes as the task's scratch storage, and the
job succeeds when its last step exits 0 (renderers/ecs.py). On a compose host a job is one command
that runs the steps one after another in the same order, with the same scratch volumes
(renderers/compose_host/jobs.py). A single one-off spec (db-init, a migrator) is a job of one step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reference.fargate import smallest_fargate_size
from services.specs import ServiceSpec, Volume, deadline_of

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


def on_demand_jobs(specs: Iterable[ServiceSpec]) -> dict[str, JobSpec]:
    """The on-demand specs as the jobs they are steps of (`ServiceSpec.on_demand`), each in the specs' order."""
    steps: dict[str, list[ServiceSpec]] = {}
    for spec in specs:
        if spec.on_demand is not None:
            steps.setdefault(spec.on_demand, []).append(spec)
    return {name: JobSpec(name, tuple(job)) for name, job in steps.items()}
