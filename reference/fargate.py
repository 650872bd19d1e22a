"""Fargate's task sizes: the only CPU/memory pairs a Fargate task definition may name.

Amazon ECS Developer Guide, "Task CPU and memory" (and RegisterTaskDefinition `memory`): per CPU
value, the memory values it accepts. Anything else is refused at registration ("No Fargate
configuration exists for given values").
"""

from __future__ import annotations

# CPU units -> the memory sizes (MiB) Fargate accepts with them.
FARGATE_SIZES: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}


def is_fargate_size(cpu: int, memory: int) -> bool:
    return memory in FARGATE_SIZES.get(cpu, ())


def smallest_fargate_size(cpu: int, memory: int) -> tuple[int, int]:
    """The smallest valid pair with at least `cpu` units and `memory` MiB (what a task of several
    containers that run in turn needs: the largest CPU and the largest memory may not pair)."""
    for size_cpu, memories in FARGATE_SIZES.items():
        fitting = [m for m in memories if m >= memory]
        if size_cpu >= cpu and fitting:
            return size_cpu, fitting[0]
    raise ValueError(f"no Fargate size has {cpu} CPU units and {memory} MiB")
