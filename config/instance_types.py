"""The Graviton instance types a host may use: vCPUs, memory (to size containers) and on-demand price.

A type missing here is rejected by the loader rather than guessed at; add a line to use it.
Prices: us-east-1 on-demand, USD per hour (2026). `t4g` types are burstable: they sustain only a
baseline share of their vCPUs (t4g.large 30% of each), so they do not count as whole CPUs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    memory_mib: int
    hourly_usd: float
    vcpus: int
    burstable: bool = False


INSTANCE_TYPES: dict[str, InstanceType] = {
    "t4g.small": InstanceType(2048, 0.0168, 2, burstable=True),
    "t4g.medium": InstanceType(4096, 0.0336, 2, burstable=True),
    "t4g.large": InstanceType(8192, 0.0672, 2, burstable=True),
    "t4g.xlarge": InstanceType(16384, 0.1344, 4, burstable=True),
    "t4g.2xlarge": InstanceType(32768, 0.2688, 8, burstable=True),
    "m7g.medium": InstanceType(4096, 0.0408, 1),
    "m7g.large": InstanceType(8192, 0.0816, 2),
    "m7g.xlarge": InstanceType(16384, 0.1632, 4),
    "m7g.2xlarge": InstanceType(32768, 0.3264, 8),
    "r7g.large": InstanceType(16384, 0.1071, 2),
    "r7g.xlarge": InstanceType(32768, 0.2142, 4),
}
