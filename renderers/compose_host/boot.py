"""A compose host's boot, rendered in one pass: its service specs go in once, and each stage hands its
result to the next.

1. `layout.py`: where each service lives on the host (image, ports, env file, volumes, config files)
2. `imds.py`: which services may reach the instance metadata service: fixed addresses, the compose
   network, and docker's drop-in that fills the firewall
3. `compose_file.py`: the compose file
4. `user_data.py`: the cloud-config document EC2 runs at the first boot

A stage imports only the stages before it and never calls back into one it follows
(tests/unit/test_boot_pipeline.py); what a stage shares with another one is data in its result.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderers.compose_host.compose_file import compose_file
from renderers.compose_host.imds import imds_guard
from renderers.compose_host.layout import ComposeHostPlan, layout
from renderers.compose_host.user_data import user_data


@dataclass(frozen=True)
class HostBoot:
    compose_file: str
    user_data: str  # the document as EC2 receives it (within its 16 KB)


def boot(plan: ComposeHostPlan) -> HostBoot:
    host = layout(plan)
    guard = imds_guard(host)
    compose = compose_file(host, guard)
    return HostBoot(compose, user_data(host, guard, compose))
