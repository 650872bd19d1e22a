"""Alarms and the dashboard: the pure description (renderers/alarms.py), and what the program registers
under mocks in both compute modes."""

from __future__ import annotations

import json
import os
import runpy
import sys
import types
from bisect import bisect_left

import pytest

from renderers.alarms import GIB, Host, Monitored, alarms, dashboard_body, put_metric_data_policy
from config.loader import SettingsError
from renderers.compose_host.user_data import DISK_METRICS
from tests.support.program import run_shipped
from tests.support.settings import make_settings
from tests.support.variants import ALARM_EMAILS, STG_EC2, STG_ECS

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EMAILS = ["oncall@example.com", "platform@example.com"]
WITH_EMAILS = {"ec2": STG_EC2, "ecs": STG_ECS}
NAMES = Monitored(
    load_balancer="app/llm-gateway-stg-alb/0123456789abcdef",
    target_groups={"litellm": "targetgroup/litell/aa", "langfuse": "targetgroup/langfu/bb"},
    hosts=(Host("gateway", ("/data", "/")),),
)


def keyed(found):
    return {alarm.key: alarm for alarm in found}


@pytest.mark.parametrize(("stack", "key", "threshold"), [
    ("stg", "litellm-5xx-rate", 10), ("prod", "litellm-5xx-rate", 5),
    ("stg", "langfuse-unhealthy-targets", 1),
    ("stg", "gateway-disk-data", 85), ("prod", "gateway-disk-root", 80),
    ("stg", "database-cpu", 90), ("prod", "database-free-storage", 5 * GIB),
    ("prod", "database-connections", 160),
    ("stg", "langfuse-otel-ingestion-queue", 1000), ("prod", "litellm-errors", 25),
])
def test_thresholds_default_per_environment(stack, key, threshold):
    assert keyed(alarms(make_settings(stack=stack), NAMES))[key].threshold == threshold


def test_thresholds_follow_the_settings():
    settings = make_settings(alarms={"http5xxPercent": 3, "diskUsedPercent": 70, "databaseFreeStorageGb": 4,
                                     "langfuseQueueLength": 42, "valkeyMemoryPercent": 60})
    found = keyed(alarms(settings, Monitored(**{**NAMES.__dict__, "cache_nodes": ("n-001",), "ecs": True})))
    assert found["langfuse-5xx-rate"].threshold == 3
    assert found["gateway-disk-data"].threshold == 70
    assert found["database-free-storage"].threshold == 4 * GIB
    assert found["langfuse-ingestion-queue"].threshold == 42
    assert found["valkey-memory-0"].threshold == 60
    assert found["valkey-memory-0"].metrics[0].dimensions == {"CacheClusterId": "n-001"}


def test_the_5xx_rate_is_per_target_group_and_ignores_quiet_periods():
    rate = keyed(alarms(make_settings(), NAMES))["litellm-5xx-rate"]
    assert {m.name for m in rate.metrics} == {"HTTPCode_Target_5XX_Count", "RequestCount"}
    assert all(m.dimensions == {"LoadBalancer": NAMES.load_balancer, "TargetGroup": "targetgroup/litell/aa"} for m in rate.metrics)
    assert rate.expression.startswith("IF(requests >= 20")


def test_langfuse_queue_metric_is_what_langfuse_publishes():
    # buildCloudWatchKey: base + ".depth" + sorted tags (shard, type) without unit; namespace "Langfuse".
    queue = keyed(alarms(make_settings(), NAMES))["langfuse-otel-ingestion-queue"].metrics[0]
    assert (queue.namespace, queue.name, dict(queue.dimensions)) == (
        "Langfuse", "langfuse.queue.otel_ingestion.depth.shard_all.type_waiting", {})


# How often a running Langfuse worker's queue depths reach CloudWatch: a flush at most every 30 s,
# triggered by the next gauge recorded (every second) after that (langfuse v4.16.0
# packages/shared/src/server/instrumentation/index.ts sendCloudWatchMetric, worker/src/env.ts
# LANGFUSE_QUEUE_METRICS_INTERVAL_MS).
LANGFUSE_FLUSH_SECONDS = 31


def alarm_state(alarm, samples: dict[int, float], now: int) -> str:
    """CloudWatch's verdict at `now` for a single-metric alarm over `samples` (second -> value): each of
    the last `evaluation_periods` periods is its statistic (Maximum) or missing; missing periods count as
    `treat_missing_data` says; ALARM when every period breaches (datapoints to alarm = evaluation periods),
    INSUFFICIENT_DATA when every period is missing and missing data is just missing (CloudWatch User
    Guide, "Configuring how CloudWatch alarms treat missing data")."""
    assert alarm.expression is None and alarm.metrics[0].statistic == "Maximum"
    times = sorted(samples)
    verdicts = []
    for i in range(alarm.evaluation_periods):
        end = now - i * alarm.period
        values = [samples[t] for t in times[bisect_left(times, end - alarm.period):bisect_left(times, end)]]
        if values:
            verdicts.append(max(values) > alarm.threshold)
        elif alarm.treat_missing_data in ("breaching", "notBreaching"):
            verdicts.append(alarm.treat_missing_data == "breaching")
    if not verdicts:
        return "INSUFFICIENT_DATA"
    return "ALARM" if all(verdicts) and len(verdicts) == alarm.evaluation_periods else "OK"


def publishing(start: int, stop: int, depth: float = 0) -> dict[int, float]:
    return dict.fromkeys(range(start, stop, LANGFUSE_FLUSH_SECONDS), depth)


@pytest.mark.parametrize("queue", ["langfuse-otel-ingestion-queue", "langfuse-ingestion-queue"])
def test_queue_alarms_fire_when_no_worker_publishes(queue):
    alarm = keyed(alarms(make_settings(), NAMES))[queue]
    day = 24 * 3600
    alive = publishing(0, day)
    # A running worker with empty queues never leaves a period without data, whenever CloudWatch looks.
    assert {alarm_state(alarm, alive, now) for now in range(3600, day, 60)} == {"OK"}
    # A worker that dies (its task stopped, the host's container gone) publishes nothing from then on:
    # the alarm fires within its 15 minutes (plus one period for the last datapoints to age out).
    died_at = 6 * 3600
    dead = publishing(0, died_at)
    fired = next(now for now in range(died_at, day, 60) if alarm_state(alarm, dead, now) == "ALARM")
    assert fired - died_at <= alarm.period * (alarm.evaluation_periods + 1)
    assert alarm_state(alarm, dead, day) == "ALARM"
    # A backlog alarms too.
    assert alarm_state(alarm, publishing(0, day, depth=alarm.threshold + 1), day) == "ALARM"


@pytest.mark.parametrize(("config", "problem"), [
    ({"emails": ["a@example.com", "A@example.com"]}, "alarms.emails[1] 'A@example.com' duplicates alarms.emails[0]"),
    ({"emails": ["not-an-address"]}, "alarms.emails[0] 'not-an-address' must match"),
    ({"diskUsedPercent": 100}, "alarms.diskUsedPercent 100 must be <= 99"),
    ({"databaseFreeStorageGb": 20}, "alarms.databaseFreeStorageGb 20 must be below database.allocatedStorageGb"),
    ({"treshold": 1}, "alarms.treshold is not a known key"),
])
def test_bad_alarm_settings_are_refused(config, problem):
    with pytest.raises(SettingsError) as error:
        make_settings(alarms=config)
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_dashboard_draws_every_alarm_metric():
    found = alarms(make_settings(), NAMES)
    body = json.loads(dashboard_body("us-east-1", "llm-gateway-stg", found))
    graphs = [w for w in body["widgets"] if w["type"] == "metric"]
    assert [g["properties"]["title"] for g in graphs] == [a.key for a in found]
    for graph, alarm in zip(graphs, found, strict=True):
        rows = graph["properties"]["metrics"]
        drawn = {(row[0], row[1]) for row in rows if isinstance(row[0], str)}
        assert drawn == {(m.namespace, m.name) for m in alarm.metrics}
        assert graph["properties"]["annotations"]["horizontal"][0]["value"] == alarm.threshold
        assert all(graph[k] >= 0 and graph["x"] + graph["width"] <= 24 for k in ("x", "y"))


@pytest.mark.parametrize("compute", ["ec2", "ecs"])
def test_every_alarm_notifies_the_topic_which_the_stack_key_encrypts(compute):
    assert WITH_EMAILS[compute].config["alarms"] == {"emails": EMAILS} and ALARM_EMAILS == EMAILS
    run = WITH_EMAILS[compute].run()
    (topic,) = run.of_type("aws:sns/topic:Topic")
    (key,) = run.of_type("aws:kms/key:Key")
    assert topic.input("kmsMasterKeyId") == run.outputs["kmsKeyArn"]
    subscriptions = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.input("protocol"), s.input("endpoint")) for s in subscriptions) == [("email", e) for e in EMAILS]
    statements = {s["Sid"]: s for s in json.loads(key.input("policy"))["Statement"]}
    assert statements["CloudWatchAlarmsPublish"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    registered = run.of_type(ALARM)
    for alarm in registered:  # the gateway's alarms and the hosts' status checks alike
        assert topic.outputs["arn"] in alarm.input("alarmActions"), alarm.name
        assert alarm.input("okActions") == [topic.outputs["arn"]], alarm.name
    names = {a.input("name") for a in registered}
    expected = {"litellm-5xx-rate", "langfuse-5xx-rate", "litellm-unhealthy-targets", "langfuse-unhealthy-targets",
                "database-cpu", "database-free-storage", "database-connections", "langfuse-otel-ingestion-queue",
                "litellm-errors"}
    if compute == "ecs":
        expected |= {"litellm-tasks-below-desired", "langfuse-worker-tasks-below-desired", "clickhouse-disk-data",
                     "valkey-memory-0"}
    else:
        expected |= {"gateway-disk-data", "gateway-disk-root"}
    assert {f"llm-gateway-stg-{key}" for key in expected} <= names
    assert [a for a in registered if "StatusCheckFailed" in (a.input("metricName") or "")]


@pytest.mark.parametrize("run", [STG_EC2.run, STG_ECS.run, lambda: run_shipped("stg"), lambda: run_shipped("prod")],
                         ids=["ec2 with e-mails", "ecs with e-mails", "shipped stg", "shipped prod"])
def test_dashboard_body_covers_every_registered_alarm(run):
    run = run()
    (dashboard,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.input("dashboardBody"))
    drawn = {(row[0], row[1]) for w in body["widgets"] if w["type"] == "metric"
             for row in w["properties"]["metrics"] if isinstance(row[0], str)}
    for alarm in run.of_type(ALARM):
        if not alarm.input("name"):
            continue  # the hosts' status checks act on the instance; not part of the gateway's graphs
        queries = alarm.input("metricQueries") or [{"metric": {"namespace": alarm.input("namespace"), "metricName": alarm.input("metricName")}}]
        for query in queries:
            if "metric" in query:
                assert (query["metric"]["namespace"], query["metric"]["metricName"]) in drawn, alarm.name
    targets = {w["properties"]["title"] for w in body["widgets"] if w["type"] == "metric"}
    assert "litellm-5xx-rate" in targets and not any("arn:" in json.dumps(w) for w in body["widgets"])


def test_litellm_errors_are_counted_from_its_log_group():
    run = STG_ECS.run()
    (metric_filter,) = run.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    assert metric_filter.input("logGroupName") == "/llm-gateway-stg/litellm"
    assert metric_filter.input("metricTransformation")["namespace"] == "llm-gateway-stg"


def test_langfuse_worker_publishes_its_queue_metrics_with_permission():
    run = STG_ECS.run()
    worker = next(t for t in run.of_type("aws:ecs/taskDefinition:TaskDefinition") if t.input("family").endswith("langfuse-worker"))
    (definition,) = json.loads(worker.input("containerDefinitions"))
    environment = {e["name"]: e["value"] for e in definition["environment"]}
    assert environment["ENABLE_AWS_CLOUDWATCH_METRIC_PUBLISHING"] == "true" and environment["AWS_REGION"] == "us-east-1"
    policy = json.loads(put_metric_data_policy(["Langfuse", "llm-gateway-stg"]))
    (statement,) = policy["Statement"]
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": ["Langfuse", "llm-gateway-stg"]}}


def test_disk_publisher_reports_mounted_paths_as_df_does(tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("boto3")
    fake.client = lambda service, region_name: types.SimpleNamespace(
        put_metric_data=lambda **kwargs: calls.append((service, region_name, kwargs)))
    monkeypatch.setitem(sys.modules, "boto3", fake)
    script = tmp_path / "disk-metrics"
    script.write_text(DISK_METRICS)
    monkeypatch.setattr(sys, "argv", [str(script), "eu-west-1", "llm-gateway-stg", "llm-gateway-stg-gateway", "/", str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    ((service, region, kwargs),) = calls
    assert (service, region, kwargs["Namespace"]) == ("cloudwatch", "eu-west-1", "llm-gateway-stg")
    (datum,) = kwargs["MetricData"]  # tmp_path is not a mount point: skipped
    assert datum["Dimensions"] == [{"Name": "Host", "Value": "llm-gateway-stg-gateway"}, {"Name": "Path", "Value": "/"}]
    stats = os.statvfs("/")
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    assert abs(datum["Value"] - 100 * used / (used + stats.f_bavail * stats.f_frsize)) < 1
