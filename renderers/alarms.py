"""Every alarm of the gateway, and its dashboard, as data: a pure function of the settings and of
the names the platform exposes (`Monitored`). `components/monitoring.py` creates them.

Sources, each read where AWS or the app publishes it:
- Load balancer (AWS/ApplicationELB, per target group: LoadBalancer + TargetGroup ARN suffixes):
  HTTPCode_Target_5XX_Count / RequestCount, UnHealthyHostCount, HealthyHostCount (ELB User Guide,
  "CloudWatch metrics for your Application Load Balancer").
- ECS Container Insights (ECS/ContainerInsights, ClusterName + ServiceName): RunningTaskCount and
  DesiredTaskCount (CloudWatch User Guide, "Amazon ECS Container Insights metrics").
- RDS (AWS/RDS, DBInstanceIdentifier): CPUUtilization, FreeStorageSpace (bytes), DatabaseConnections.
- ElastiCache (AWS/ElastiCache, CacheClusterId, per node): DatabaseMemoryUsagePercentage.
- The compose hosts: `disk_used_percent` (the CloudWatch agent's name) per Host and Path, published
  by the hosts' own timer (renderers/compose_host/user_data.py DISK_METRICS) into the stack's namespace.
- Langfuse's worker with ENABLE_AWS_CLOUDWATCH_METRIC_PUBLISHING=true: namespace "Langfuse", no
  dimensions; a sharded queue's depth is `langfuse.queue.<queue>.depth.shard_all.type_waiting`
  (langfuse v4.16.0 packages/shared/src/server/instrumentation/index.ts buildCloudWatchKey,
  worker/src/features/queue-metrics-runner/index.ts emitDepth).
- LiteLLM: no metrics without its enterprise Prometheus; it logs one JSON line per error
  (JSON_LOGS, LITELLM_LOG=ERROR; litellm/_logging.py JsonFormatter `level`), counted by a log metric
  filter into the stack's namespace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reference import names
from config.settings import Settings

GIB = 1024**3
LANGFUSE_NAMESPACE = "Langfuse"  # hard-coded by Langfuse (PutMetricDataCommand Namespace)
# Queues LiteLLM's traces pass through (its v4 callback exports OTEL spans), and the API's.
LANGFUSE_QUEUES = ("otel_ingestion", "ingestion")
# Only a running worker publishes the depths, on a cadence: its queue-metrics runner records each
# queue's depth every second (LANGFUSE_QUEUE_METRICS_INTERVAL_MS, default 1000, worker/src/env.ts) and
# the gauges are flushed to CloudWatch at most every 30 s (packages/shared/src/server/instrumentation/
# index.ts sendCloudWatchMetric, flushInterval; langfuse v4.16.0, the image is 4.50.0). A live worker
# puts about ten datapoints into each 5-minute period, so an empty period means no worker publishes
# (stopped, stuck, or its PutMetricData failing): the queue alarms count missing data as breaching.
LANGFUSE_QUEUE_PERIOD_SECONDS = 300
LITELLM_ERRORS_METRIC = "LiteLLMErrors"
LITELLM_ERROR_PATTERN = '{ ($.level = "ERROR") || ($.level = "CRITICAL") }'
DISK_METRIC = "disk_used_percent"
# Below this many requests in 5 minutes a 5xx rate says nothing (one failed call of two is 50%).
MIN_REQUESTS = 20
ECS_SERVICES = ("litellm", "langfuse-web", "langfuse-worker")
ALB_SERVICES = ("litellm", "langfuse")  # target groups (components/load_balancer.py routes)


def host_dimension(name_prefix: str, role: str) -> str:
    """The Host dimension a compose host publishes its disk usage under."""
    return f"{name_prefix}-{role}"


def metrics_namespace(name_prefix: str) -> str:
    """The stack's own CloudWatch namespace: the hosts' disk metrics and LiteLLM's error count."""
    return name_prefix


@dataclass(frozen=True)
class Metric:
    id: str  # the query id inside an alarm (lowercase first letter, CloudWatch metric math)
    namespace: str
    name: str
    dimensions: Mapping[str, Any]  # values may be Pulumi outputs until resolved
    statistic: str


@dataclass(frozen=True)
class Alarm:
    key: str  # resource name and alarm name suffix, stable
    description: str  # what it means and the first step (the runbook's line)
    metrics: tuple[Metric, ...]
    threshold: float
    comparison: str
    period: int = 300
    evaluation_periods: int = 1
    expression: str | None = None  # metric math over `metrics`; None: the single metric
    treat_missing_data: str = "missing"
    unit_label: str = ""


@dataclass(frozen=True)
class Host:
    role: str  # "gateway" or "clickhouse"; the Host dimension is `<prefix>-<role>` (host_dimension)
    paths: tuple[str, ...]  # mounts whose usage the host publishes (its data volume holds ClickHouse)


@dataclass(frozen=True)
class Monitored:
    """The names the platform exposes (strings, or Pulumi outputs in the component)."""

    load_balancer: Any  # ARN suffix app/<name>/<id>
    target_groups: Mapping[str, Any]  # route -> ARN suffix targetgroup/<name>/<id>
    hosts: tuple[Host, ...]
    cache_nodes: tuple[Any, ...] = ()  # ElastiCache node ids (ECS mode)
    ecs: bool = False


def alarms(settings: Settings, monitored: Monitored) -> tuple[Alarm, ...]:
    a = settings.alarms
    prefix = settings.name_prefix
    found: list[Alarm] = []
    for route in ALB_SERVICES:
        dims = {"LoadBalancer": monitored.load_balancer, "TargetGroup": monitored.target_groups[route]}
        found.append(Alarm(
            key=f"{route}-5xx-rate",
            description=f"{route}: more than {a.http5xx_percent}% of requests answered 5xx by the targets over 5 minutes. "
                        f"Read the {route} logs for the failing calls, then target health.",
            metrics=(Metric("errors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dims, "Sum"),
                     Metric("requests", "AWS/ApplicationELB", "RequestCount", dims, "Sum")),
            expression=f"IF(requests >= {MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)",
            threshold=a.http5xx_percent, comparison="GreaterThanThreshold", unit_label="%",
        ))
        found.append(Alarm(
            key=f"{route}-unhealthy-targets",
            description=f"{route}: at least {a.unhealthy_hosts} target(s) failing the load balancer's health check for 3 minutes. "
                        "Check the target group's health reasons, then the task/container logs.",
            metrics=(Metric("m", "AWS/ApplicationELB", "UnHealthyHostCount", dims, "Maximum"),),
            threshold=a.unhealthy_hosts, comparison="GreaterThanOrEqualToThreshold", period=60, evaluation_periods=3,
        ))
        found.append(Alarm(
            key=f"{route}-no-healthy-targets",
            description=f"{route}: no healthy target for 3 minutes, every request fails (503). "
                        "Check the service's running tasks (or the host) and its health check.",
            metrics=(Metric("m", "AWS/ApplicationELB", "HealthyHostCount", dims, "Minimum"),),
            threshold=1, comparison="LessThanThreshold", period=60, evaluation_periods=3,
            treat_missing_data="breaching",
        ))
    if monitored.ecs:
        for service in ECS_SERVICES:
            dims = {"ClusterName": names.cluster(prefix), "ServiceName": service}
            found.append(Alarm(
                key=f"{service}-tasks-below-desired",
                description=f"{service}: fewer tasks running than desired for 5 minutes. Read the service's events "
                            "(stopped reason: image pull, health check, out of memory) and the task logs.",
                metrics=(Metric("running", "ECS/ContainerInsights", "RunningTaskCount", dims, "Minimum"),
                         Metric("desired", "ECS/ContainerInsights", "DesiredTaskCount", dims, "Maximum")),
                expression="desired - running",
                threshold=1, comparison="GreaterThanOrEqualToThreshold", period=60, evaluation_periods=5,
            ))
    for host in monitored.hosts:
        for path in host.paths:
            what = "ClickHouse/Valkey data volume" if path != "/" else "root volume (images, logs)"
            found.append(Alarm(
                key=f"{host.role}-disk-{path.strip('/').replace('/', '-') or 'root'}",
                description=f"{host.role} host: {what} {path} over {a.disk_used_percent}% used. Grow the volume "
                            "(dataVolumeGb / rootVolumeGb) or free space (docker image prune; ClickHouse TTLs).",
                metrics=(Metric("m", metrics_namespace(prefix), DISK_METRIC, {"Host": host_dimension(prefix, host.role), "Path": path}, "Maximum"),),
                threshold=a.disk_used_percent, comparison="GreaterThanThreshold", unit_label="%",
            ))
    db = {"DBInstanceIdentifier": names.database_instance(prefix, settings.database.restored_instance)}
    found += [
        Alarm("database-cpu", f"PostgreSQL CPU over {a.database_cpu_percent}% for 15 minutes. Look at Performance "
              "Insights / slow query log; consider database.instanceClass.",
              (Metric("m", "AWS/RDS", "CPUUtilization", db, "Average"),),
              a.database_cpu_percent, "GreaterThanThreshold", evaluation_periods=3, unit_label="%"),
        Alarm("database-free-storage", f"PostgreSQL has under {a.database_free_storage_gb} GiB free. Storage autoscaling "
              "stops at database.maxAllocatedStorageGb: raise it, or find what grows (LiteLLM spend logs).",
              (Metric("m", "AWS/RDS", "FreeStorageSpace", db, "Minimum"),),
              a.database_free_storage_gb * GIB, "LessThanThreshold", unit_label="bytes"),
        Alarm("database-connections", f"PostgreSQL over {a.database_connections} connections for 10 minutes. "
              "Count tasks x pool sizes; a connection leak or a scale-out near max_connections.",
              (Metric("m", "AWS/RDS", "DatabaseConnections", db, "Maximum"),),
              a.database_connections, "GreaterThanThreshold", evaluation_periods=2),
    ]
    for i, node in enumerate(monitored.cache_nodes):
        found.append(Alarm(
            key=f"valkey-memory-{i}",
            description=f"Valkey node {i}: over {a.valkey_memory_percent}% of its memory. It never evicts: when full, "
                        "Langfuse cannot queue events and LiteLLM's counters fail. Check the Langfuse queues "
                        "(worker alive?), then redis.nodeType.",
            metrics=(Metric("m", "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", {"CacheClusterId": node}, "Maximum"),),
            threshold=a.valkey_memory_percent, comparison="GreaterThanThreshold", unit_label="%",
        ))
    for queue in LANGFUSE_QUEUES:
        found.append(Alarm(
            key=f"langfuse-{queue.replace('_', '-')}-queue",
            description=f"Langfuse {queue} queue: over {a.langfuse_queue_length} jobs waiting, or no depth published "
                        "(no worker running), for 15 minutes: traces arrive late or not at all. Check the "
                        "langfuse-worker (running? errors? Redis and ClickHouse reachable?).",
            metrics=(Metric("m", LANGFUSE_NAMESPACE, f"langfuse.queue.{queue}.depth.shard_all.type_waiting", {}, "Maximum"),),
            threshold=a.langfuse_queue_length, comparison="GreaterThanThreshold",
            period=LANGFUSE_QUEUE_PERIOD_SECONDS, evaluation_periods=3, treat_missing_data="breaching",
        ))
    found.append(Alarm(
        key="litellm-errors",
        description=f"LiteLLM logged more than {a.litellm_errors} errors in 5 minutes (Bedrock throttling or refusals, "
                    "Redis or database failures). Read the LiteLLM log group for level ERROR.",
        metrics=(Metric("m", metrics_namespace(prefix), LITELLM_ERRORS_METRIC, {}, "Sum"),),
        threshold=a.litellm_errors, comparison="GreaterThanThreshold",
    ))
    return tuple(found)


def alarm_name(name_prefix: str, alarm: Alarm) -> str:
    return f"{name_prefix}-{alarm.key}"


def metric_queries(alarm: Alarm) -> list[dict] | None:
    """The alarm's metric_queries (provider shape), or None for a single-metric alarm."""
    if alarm.expression is None:
        return None
    return [
        *({"id": m.id, "return_data": False, "metric": {
            "namespace": m.namespace, "metric_name": m.name, "dimensions": dict(m.dimensions),
            "stat": m.statistic, "period": alarm.period,
        }} for m in alarm.metrics),
        {"id": "e", "expression": alarm.expression, "label": alarm.key, "return_data": True},
    ]


def _widget_metric(metric: Metric, **options: Any) -> list:
    row: list = [metric.namespace, metric.name]
    for key, value in metric.dimensions.items():
        row += [key, value]
    return [*row, {"stat": metric.statistic, **options}]


def dashboard_body(region: str, name_prefix: str, found: Sequence[Alarm]) -> str:
    """One CloudWatch dashboard: a graph per alarm, its metrics (or its math), the threshold drawn in.
    Body shape: CloudWatch API Reference, "Dashboard Body Structure and Syntax"."""
    widgets = [{
        "type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
        "properties": {"markdown": f"# {name_prefix}\nEvery alarm of the gateway; red lines are the thresholds."},
    }]
    for i, alarm in enumerate(found):
        if alarm.expression is None:
            series = [_widget_metric(m, id=m.id) for m in alarm.metrics]
        else:
            series = [[{"expression": alarm.expression, "id": "e", "label": alarm.key}],
                      *(_widget_metric(m, id=m.id, visible=False) for m in alarm.metrics)]
        widgets.append({
            "type": "metric", "x": (i % 3) * 8, "y": 2 + (i // 3) * 6, "width": 8, "height": 6,
            "properties": {
                "title": alarm.key, "region": region, "view": "timeSeries", "period": alarm.period,
                "metrics": series,
                "annotations": {"horizontal": [{"label": "alarm", "value": alarm.threshold, "color": "#d62728"}]},
            },
        })
    return json.dumps({"widgets": widgets}, sort_keys=True)


def put_metric_data_policy(namespaces: Sequence[str]) -> str:
    """Publish metrics into these namespaces only. PutMetricData has no resource-level permissions
    (Service Authorization Reference, Amazon CloudWatch: Resource "*"); `cloudwatch:namespace` bounds it."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": sorted(namespaces)}},
        }],
    }, indent=1)
