"""The gateway's alarms and its dashboard, rendered from renderers/alarms.py.

Every alarm notifies the stack's alarm topic when it fires and when it clears. LiteLLM publishes no
metrics of its own without its enterprise Prometheus, so its error lines are counted from its log
group by a metric filter here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from renderers.alarms import (
    LITELLM_ERROR_PATTERN,
    LITELLM_ERRORS_METRIC,
    Monitored,
    alarm_name,
    alarms,
    dashboard_body,
    metric_queries,
    metrics_namespace,
)
from config.settings import Settings


@dataclass(frozen=True)
class MonitoringArgs:
    settings: Settings
    topic_arn: pulumi.Input[str]
    monitored: Monitored  # names as Pulumi outputs
    litellm_log_group: pulumi.Input[str]  # where LiteLLM's JSON lines land


class Monitoring(GatewayComponent):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        settings = args.settings
        prefix = settings.name_prefix
        aws.cloudwatch.LogMetricFilter(
            f"{name}-litellm-errors",
            name=f"{prefix}-litellm-errors",
            log_group_name=args.litellm_log_group,
            pattern=LITELLM_ERROR_PATTERN,
            # 0 when no line matches: the count is a series of zeros, not missing data.
            metric_transformation={"namespace": metrics_namespace(prefix), "name": LITELLM_ERRORS_METRIC,
                                   "value": "1", "default_value": "0", "unit": "Count"},
            opts=self.child(),
        )
        found = alarms(settings, args.monitored)
        self.alarms = {}
        for alarm in found:
            single = alarm.metrics[0] if alarm.expression is None else None
            self.alarms[alarm.key] = aws.cloudwatch.MetricAlarm(
                f"{name}-{alarm.key}",
                name=alarm_name(prefix, alarm),
                alarm_description=alarm.description,
                namespace=single.namespace if single else None,
                metric_name=single.name if single else None,
                dimensions=dict(single.dimensions) or None if single else None,
                statistic=single.statistic if single else None,
                period=alarm.period if single else None,
                metric_queries=metric_queries(alarm),
                threshold=alarm.threshold,
                comparison_operator=alarm.comparison,
                evaluation_periods=alarm.evaluation_periods,
                treat_missing_data=alarm.treat_missing_data,
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                opts=self.child(),
            )
        monitored = args.monitored
        resolved = pulumi.Output.all(
            monitored.load_balancer, dict(monitored.target_groups), list(monitored.cache_nodes),
        ).apply(lambda v: dashboard_body(settings.region, prefix, alarms(settings, Monitored(
            load_balancer=v[0], target_groups=v[1], hosts=monitored.hosts, cache_nodes=tuple(v[2]), ecs=monitored.ecs,
        ))))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=prefix, dashboard_body=resolved, opts=self.child(),
        )
        self.register_outputs({"dashboardName": self.dashboard.dashboard_name})
