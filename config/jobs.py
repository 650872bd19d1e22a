"""Deploy-time jobs as data: one or more one-off steps that run in order as one unit.

On ECS a job is one task: each step is a container that starts when the previous one exited 0
(`dependsOn` SUCCESS), the steps share the job's volumes as the task's scratch storage, and the
job succeeds when its last step exits 0. On a compose host a job is one command that runs the
steps one after another in the same order, with the same scratch volumes. A single one-off spec
(db-init, a migrator) is a job of one step.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.services import ServiceSpec, Volume


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
    def cpu(self) -> int:
        """The steps run one at a time: the job needs the largest step's size."""
        return max(step.cpu or 0 for step in self.steps)

    @property
    def memory(self) -> int:
        return max(step.memory or 0 for step in self.steps)

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
