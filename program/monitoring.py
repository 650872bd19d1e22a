"""What the stack watches: alarms on the foundation's and the platform's metrics, one dashboard."""

from __future__ import annotations

from components.monitoring import Monitoring, MonitoringArgs
from renderers.alarms import Monitored
from program.foundation import Foundation
from program.platform import Platform


def build_monitoring(foundation: Foundation, platform: Platform) -> Monitoring:
    lb = foundation.load_balancer
    return Monitoring("monitoring", MonitoringArgs(
        foundation.settings, foundation.alarm_topic.arn,
        Monitored(
            load_balancer=lb.arn_suffix,
            target_groups={route: group.arn_suffix for route, group in lb.target_groups.items()},
            hosts=platform.hosts, cache_nodes=platform.cache_nodes, ecs=platform.ecs,
        ),
        platform.litellm_log_group,
    ))
