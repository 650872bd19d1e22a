"""The Graviton instance types a host may use: vCPUs, memory (to size containers) and on-demand price.

A type missing here is rejected by the loader rather than guessed at; add a line to use it.
Prices: us-east-1 on-demand, USD per hour (2026). `t4g` types are burstable: they sustain only a
baseline share of their vCPUs (t4g.large 30% of each), so they do not count as whole CPUs.

Memory: EC2 advertises the nominal size (DescribeInstanceTypes MemoryInfo.SizeInMiB); firmware and
the kernel keep part of it, so the OS offers processes less (MemTotal). The part kept is measured,
not modelled: Karpenter launched every instance type and recorded nominal minus the kubelet's
memory capacity (MemTotal) on Bottlerocket, the AMI family with the highest overhead of AL2,
Ubuntu, Windows and Bottlerocket (aws/karpenter-provider-aws hack/code/memory_overhead_gen.go; the
bytes below are its pkg/providers/instancetype/zz_generated.memory_overhead.go, e.g. t4g.medium
268038144 bytes, 256 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class InstanceType:
    memory_mib: int  # nominal
    hourly_usd: float
    vcpus: int
    kernel_reserved_bytes: int  # nominal minus MemTotal, as measured
    burstable: bool = False

    @property
    def usable_mib(self) -> int:
        """What the OS offers processes (MemTotal), in whole MiB."""
        return self.memory_mib - -(-self.kernel_reserved_bytes // MIB)


INSTANCE_TYPES: dict[str, InstanceType] = {
    "t4g.small": InstanceType(2048, 0.0168, 2, 206204928, burstable=True),
    "t4g.medium": InstanceType(4096, 0.0336, 2, 268038144, burstable=True),
    "t4g.large": InstanceType(8192, 0.0672, 2, 391708672, burstable=True),
    "t4g.xlarge": InstanceType(16384, 0.1344, 4, 637181952, burstable=True),
    "t4g.2xlarge": InstanceType(32768, 0.2688, 8, 1130233856, burstable=True),
    "m7g.medium": InstanceType(4096, 0.0408, 1, 293036032),
    "m7g.large": InstanceType(8192, 0.0816, 2, 439844864),
    "m7g.xlarge": InstanceType(16384, 0.1632, 4, 735551488),
    "m7g.2xlarge": InstanceType(32768, 0.3264, 8, 1326972928),
    "r7g.large": InstanceType(16384, 0.1071, 2, 735313920),
    "r7g.xlarge": InstanceType(32768, 0.2142, 4, 1326497792),
}
