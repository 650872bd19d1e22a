"""The Graviton instance types a host may use: memory (to size containers) and on-demand price.

A type missing here is rejected by the loader rather than guessed at; add a line to use it.
Prices: us-east-1 on-demand, USD per hour (2026).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    memory_mib: int
    hourly_usd: float


INSTANCE_TYPES: dict[str, InstanceType] = {
    "t4g.small": InstanceType(2048, 0.0168),
    "t4g.medium": InstanceType(4096, 0.0336),
    "t4g.large": InstanceType(8192, 0.0672),
    "t4g.xlarge": InstanceType(16384, 0.1344),
    "t4g.2xlarge": InstanceType(32768, 0.2688),
    "m7g.medium": InstanceType(4096, 0.0408),
    "m7g.large": InstanceType(8192, 0.0816),
    "m7g.xlarge": InstanceType(16384, 0.1632),
    "m7g.2xlarge": InstanceType(32768, 0.3264),
    "r7g.large": InstanceType(16384, 0.1071),
    "r7g.xlarge": InstanceType(32768, 0.2142),
}
