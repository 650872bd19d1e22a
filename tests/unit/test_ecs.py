"""ECS mode under recording mocks: task definitions, services, jobs, load balancer, data stores."""

from __future__ import annotations

import json
import re

import pytest

from reference.images import parse_image
from renderers.litellm_proxy import render_proxy_config
from tests.support.program import run_shipped
from tests.unit.test_foundation import secret_values
from tests.support.pulumi_mocks import is_secret, plain_strings, unwrap
from tests.support.stacks import shipped_settings
from tests.support.variants import EU_ECS, EXTERNAL_CLICKHOUSE_PASSWORD, STG_ECS
from tests.support import yaml_docs
from policy.rules import strings_in

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
DIGEST = re.compile(r"^[a-z0-9./-]+@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def prod():
    return run_shipped("prod")



def public_records(run):
    """The records in the domain's zone (not the database's private name)."""
    return [r for r in run.of_type("aws:route53/record:Record") if not r.name.startswith("database-dns-")]

def containers(run) -> dict[str, dict]:
    """Container name -> its definition, from every task definition's JSON."""
    found = {}
    for task in run.of_type(TASK_DEFINITION):
        for definition in json.loads(task.input("containerDefinitions")):  # a job's steps share a task
            found[definition["name"]] = {**definition, "_task": task}
    return found


def test_every_container_of_the_platform_is_a_fargate_arm64_task(prod):
    assert set(containers(prod)) == {
        "db-init", "litellm-migrator", "clickhouse-ready", "langfuse-web", "langfuse-worker", "litellm",
        "langfuse-migrator", "team-plane-plan", "team-plane-apply", "team-plane-verify",
        "team-plane-smoke",
    }
    for task in prod.of_type(TASK_DEFINITION):
        assert task.input("requiresCompatibilities") == ["FARGATE"] and task.input("networkMode") == "awsvpc"
        assert task.input("runtimePlatform") == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
        assert task.input("executionRoleArn") and task.input("taskRoleArn")


def test_every_image_runs_by_its_pinned_digest(prod):
    for name, definition in containers(prod).items():
        assert DIGEST.match(definition["image"]), (name, definition["image"])
    resolved = prod.outputs["resolvedImages"]
    # what runs is exactly the pin: nothing is looked up at deploy time (tests/unit/test_images.py)
    assert resolved == {reference: parse_image(reference).pinned for reference in resolved}
    assert {d["image"] for d in containers(prod).values()} <= set(resolved.values())


def test_litellm_container_contract(prod):
    litellm = containers(prod)["litellm"]
    environment = {e["name"]: e["value"] for e in litellm["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in litellm["secrets"]}
    config = yaml_docs.load(environment["LITELLM_PROXY_CONFIG"])
    referenced = {v.removeprefix("os.environ/") for v in strings_in(config) if v.startswith("os.environ/")}
    assert referenced <= set(environment) | set(secrets)
    assert set(environment["LITELLM_REQUIRED_ENV"].split(",")) == referenced | {
        "LITELLM_SALT_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "UI_USERNAME", "UI_PASSWORD",
        "LANGFUSE_HOST",  # what the teams' entries, added at start, reference
    }
    # The teams come from the document at start: no per-team secret in the task definition.
    assert not [name for name in secrets if name.startswith("LANGFUSE_PUBLIC_KEY_")]
    assert environment["LLM_GATEWAY_TEAM_DOCUMENT"] == prod.outputs["teamPlaneDocument"]
    assert secrets["LITELLM_MASTER_KEY"] == prod.outputs["masterKeySecretArn"] + ":masterKey::"
    assert environment["LANGFUSE_HOST"] == "http://langfuse-web.llm-gateway-prod.internal:3000"
    assert environment["NUM_WORKERS"] == "2" and environment["DISABLE_SCHEMA_UPDATE"] == "true"
    assert litellm["healthCheck"]["command"][1] == "python3"
    assert containers(prod)["litellm-migrator"]["command"] == ["--skip_server_startup"]
    migrator_env = {e["name"]: e["value"] for e in containers(prod)["litellm-migrator"]["environment"]}
    assert migrator_env["DISABLE_SCHEMA_UPDATE"] == "false"


def test_langfuse_reaches_its_data_stores_privately(prod):
    environment = {e["name"]: e["value"] for e in containers(prod)["langfuse-web"]["environment"]}
    assert environment["CLICKHOUSE_URL"] == "http://clickhouse.llm-gateway-prod.internal:8123"
    (cache,) = prod.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert environment["REDIS_HOST"] == cache.outputs["primaryEndpointAddress"]
    assert environment["REDIS_TLS_ENABLED"] == "true"
    assert environment["NEXTAUTH_URL"] == "https://langfuse.llm.example.com"
    assert environment["LANGFUSE_S3_EVENT_UPLOAD_BUCKET"] == prod.outputs["langfuseBucket"]


def test_no_secret_value_in_any_environment_and_every_secret_by_reference(prod):
    generated = [v for v in prod.mocks.generated_secrets if len(v) >= 8]
    for name, definition in containers(prod).items():
        text = json.dumps(definition["environment"])
        assert not [v for v in generated if v in text], name
        for secret in definition["secrets"]:
            assert re.fullmatch(r"arn:aws:secretsmanager:us-east-1:\d{12}:secret:[\w/+=.@-]+:\w+::", secret["valueFrom"]), secret


def test_health_checks_and_stop_timeouts(prod):
    defined = containers(prod)
    for name in ("litellm", "langfuse-web", "langfuse-worker"):
        check = defined[name]["healthCheck"]
        assert check["command"][0] == "CMD" and not {"curl", "wget"} & set(check["command"])
        assert 0 < check["startPeriod"] <= 300 and check["retries"] >= 1
    assert defined["langfuse-web"]["stopTimeout"] == defined["langfuse-worker"]["stopTimeout"] == 120


def test_services_roll_back_and_wait_and_stay_private(prod):
    for service in prod.of_type(SERVICE):
        assert service.input("launchType") == "FARGATE"
        assert service.input("deploymentCircuitBreaker") == {"enable": True, "rollback": True}
        assert service.input("waitForSteadyState") is True
        network = service.input("networkConfiguration")
        assert network["assignPublicIp"] is False and set(network["subnets"]) <= prod.subnet_ids("private")
    by_name = {s.input("name"): s for s in prod.of_type(SERVICE)}
    assert by_name["litellm"].input("desiredCount") == 2 and by_name["langfuse-web"].input("desiredCount") == 1
    assert by_name["litellm"].input("loadBalancers")[0]["containerPort"] == 4000
    assert by_name["langfuse-web"].input("serviceRegistries")["registryArn"].startswith("arn:aws:servicediscovery:")


def urns(run, *names):
    return {r.urn for r in run.resources if r.name in names}


def test_jobs_run_before_the_services_that_need_them(prod):
    services = {s.input("name"): s for s in prod.of_type(SERVICE)}
    assert urns(prod, "ecs-db-init-run", "ecs-litellm-migrator-run") <= set(services["litellm"].dependencies)
    # Langfuse's schemas: migrated once per deploy by its own job, before web and worker start.
    langfuse_migrator = prod.named("ecs-langfuse-migrator-run")
    assert urns(prod, "ecs-db-init-run", "ecs-clickhouse-ready-run") <= set(langfuse_migrator.dependencies)
    for service in ("langfuse-web", "langfuse-worker"):
        assert urns(prod, "ecs-langfuse-migrator-run") <= set(services[service].dependencies), service
    migrator = prod.named("ecs-litellm-migrator-run")
    assert urns(prod, "ecs-db-init-run") <= set(migrator.dependencies)
    assert urns(prod, "ecs-clickhouse") <= set(prod.named("ecs-clickhouse-ready-run").dependencies)
    db_init = prod.named("ecs-db-init-run")
    assert db_init.input("container_name") == "db-init" and db_init.input("trigger").count("/") == 2


def test_a_replaced_clickhouse_host_runs_clickhouse_ready_again(prod):
    """Issue 10, finding 2: the readiness job re-runs on a trigger change; the host's instance id
    is in it, so a new host is waited for before Langfuse web (which depends on the job) moves."""
    (instance,) = prod.of_type("aws:ec2/instance:Instance")
    ready = prod.named("ecs-clickhouse-ready-run")
    assert instance.urn in ready.property_dependencies["trigger"]
    assert ready.input("trigger") == instance.id  # langfuse-web depends on the job: see the test above


def test_autoscaling_for_litellm_and_langfuse_web_only(prod):
    targets = {t.input("resourceId").rsplit("/", 1)[-1]: t for t in prod.of_type("aws:appautoscaling/target:Target")}
    assert {k: (t.input("minCapacity"), t.input("maxCapacity")) for k, t in targets.items()} == {
        "litellm": (2, 6), "langfuse-web": (1, 4),
    }
    for policy in prod.of_type("aws:appautoscaling/policy:Policy"):
        config = policy.input("targetTrackingScalingPolicyConfiguration")
        assert config["predefinedMetricSpecification"]["predefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    services = {s.input("name"): s for s in prod.of_type(SERVICE)}
    assert services["litellm"].ignore_changes == ["desiredCount"] and services["langfuse-worker"].ignore_changes == []


def test_changing_the_proxy_config_changes_only_the_litellm_task_definition():
    models = STG_ECS.settings().models
    more = [*({"name": m.name, "bedrockModel": m.bedrock_model} for m in models),
            {"name": "haiku", "bedrockModel": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}]
    before = containers(STG_ECS.run())
    after = containers(STG_ECS.but(models=more).run())
    changed = {name for name in before if _definition(before[name]) != _definition(after[name])}
    assert changed == {"litellm"}


def _definition(container: dict) -> str:
    return json.dumps({k: v for k, v in container.items() if k != "_task"}, sort_keys=True)


def test_load_balancer_https_routing(prod):
    (alb,) = prod.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert alb.input("idleTimeout") >= 300 and alb.input("dropInvalidHeaderFields") is True
    assert alb.input("enableDeletionProtection") is True and alb.input("accessLogs")["enabled"] is True
    assert alb.input("internal") is False and set(alb.input("subnets")) == prod.subnet_ids("public")
    listeners = {listener.input("port"): listener for listener in prod.of_type("aws:lb/listener:Listener")}
    assert set(listeners) == {443, 80}
    assert listeners[443].input("protocol") == "HTTPS" and listeners[443].input("sslPolicy").startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80].input("defaultActions")[0]["redirect"] == {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}
    rules = {r.input("conditions")[0]["hostHeader"]["values"][0]: r.input("actions")[0]["targetGroupArn"]
             for r in prod.of_type("aws:lb/listenerRule:ListenerRule")}
    groups = {g.name: g.outputs["arn"] for g in prod.of_type("aws:lb/targetGroup:TargetGroup")}
    assert rules == {"litellm.llm.example.com": groups["load-balancer-litellm"], "langfuse.llm.example.com": groups["load-balancer-langfuse"]}
    health = {g.name: (g.input("healthCheck")["path"], g.input("targetType")) for g in prod.of_type("aws:lb/targetGroup:TargetGroup")}
    assert health == {"load-balancer-litellm": ("/health/liveliness", "ip"), "load-balancer-langfuse": ("/api/public/ready", "ip")}
    assert len(public_records(prod)) == 4  # prod has its zone: nothing to create by hand
    assert "dnsRecordsToCreate" not in prod.outputs


def test_services_wait_for_what_forwards_to_their_target_group(prod):
    """ECS refuses a service whose target group no listener uses yet: the rule comes first."""
    services = {s.input("name"): s for s in prod.of_type(SERVICE)}
    rules = {r.input("actions")[0]["targetGroupArn"]: r.urn for r in prod.of_type("aws:lb/listenerRule:ListenerRule")}
    for name in ("litellm", "langfuse-web"):
        target_group = services[name].input("loadBalancers")[0]["targetGroupArn"]
        assert rules[target_group] in services[name].dependencies, name
    plain = EU_ECS.run()  # plain HTTP: the listeners forward themselves
    assert EU_ECS.config["allowInsecureHttp"] is True
    listeners = {r.input("defaultActions")[0]["targetGroupArn"]: r.urn for r in plain.of_type("aws:lb/listener:Listener")}
    for service in plain.of_type(SERVICE):
        if service.input("loadBalancers"):
            assert listeners[service.input("loadBalancers")[0]["targetGroupArn"]] in service.dependencies


def test_without_a_zone_every_record_is_told_before_the_bounded_wait():
    run = STG_ECS.run()  # stg, domain, no hostedZoneId
    assert "hostedZoneId" not in STG_ECS.config
    assert not public_records(run)
    dns = run.outputs["loadBalancerDnsName"]
    (certificate,) = run.of_type("aws:acm/certificate:Certificate")
    validation_records = {o["domainName"]: o for o in unwrap(certificate.outputs["domainValidationOptions"])}
    expected = [
        *({"name": validation_records[host]["resourceRecordName"], "type": "CNAME",
           "value": validation_records[host]["resourceRecordValue"]}
          for host in ("litellm.llm.example.com", "langfuse.llm.example.com")),
        {"name": "litellm.llm.example.com", "type": "CNAME", "value": dns},
        {"name": "langfuse.llm.example.com", "type": "CNAME", "value": dns},
    ]
    assert run.outputs["dnsRecordsToCreate"] == expected
    (warning,) = [m for level, m in run.mocks.logged if level == "warning" and "dnsRecordsToCreate" in m]
    assert all(f"{r['name']} {r['type']} {r['value']}" in warning for r in expected)
    (validation,) = run.of_type("aws:acm/certificateValidation:CertificateValidation")
    # waits on the ARN that resolves after the warning, which needs the load balancer
    (alb,) = run.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert alb.urn in validation.property_dependencies["certificateArn"]
    assert validation.create_timeout == "30m"  # not the provider's 75 minutes


def test_hosted_zone_validates_the_certificate_and_aliases_both_names():
    run = run_shipped("prod")
    records = {r.input("name"): r for r in public_records(run)}
    assert {r.input("type") for r in records.values()} == {"CNAME", "A"}
    assert records["litellm.llm.example.com"].input("aliases")[0]["evaluateTargetHealth"] is True
    (validation,) = run.of_type("aws:acm/certificateValidation:CertificateValidation")
    assert len(validation.input("validationRecordFqdns")) == 2
    assert "dnsRecordsToCreate" not in run.outputs


def test_plain_http_only_when_allowed():
    run = EU_ECS.run()
    listeners = {listener.input("port"): listener.input("protocol") for listener in run.of_type("aws:lb/listener:Listener")}
    assert listeners == {80: "HTTP", 3000: "HTTP"}
    assert [m for level, m in run.mocks.logged if level == "warning" and "plain HTTP" in m]
    assert not run.of_type("aws:acm/certificate:Certificate")
    dns = run.outputs["loadBalancerDnsName"]
    assert (run.outputs["litellmUrl"], run.outputs["langfuseUrl"]) == (f"http://{dns}", f"http://{dns}:3000")


def test_cache_is_private_encrypted_and_never_evicts(prod):
    (group,) = prod.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group.input("engine") == "valkey" and group.input("transitEncryptionEnabled") is True
    assert group.input("atRestEncryptionEnabled") is True and group.input("kmsKeyId").startswith("arn:aws:kms:")
    assert is_secret(group.inputs["authToken"])
    assert group.input("numCacheClusters") == 2 and group.input("automaticFailoverEnabled") is True
    assert group.input("securityGroupIds") == [prod.security_group_id("redis")]
    (parameters,) = prod.of_type("aws:elasticache/parameterGroup:ParameterGroup")
    assert {"name": "maxmemory-policy", "value": "noeviction"} in parameters.input("parameters")


def test_clickhouse_host_keeps_its_data_on_a_separate_protected_volume(prod):
    (instance,) = prod.of_type("aws:ec2/instance:Instance")
    (volume,) = prod.of_type("aws:ebs/volume:Volume")
    (attachment,) = prod.of_type("aws:ec2/volumeAttachment:VolumeAttachment")
    assert volume.protect is True and volume.input("encrypted") is True and volume.input("type") == "gp3"
    assert instance.protect is False and instance.delete_before_replace is True
    assert attachment.input("volumeId") == volume.id and attachment.input("instanceId") == instance.id
    assert volume.input("availabilityZone") == "us-east-1a"  # the instance's subnet, private-0
    assert instance.input("subnetId") == prod.named("network-private-0", "aws:ec2/subnet:Subnet").id
    assert instance.input("metadataOptions")["httpTokens"] == "required"
    assert instance.input("rootBlockDevice")["encrypted"] is True
    assert not instance.input("keyName") and instance.input("associatePublicIpAddress") is False
    user_data = unwrap(instance.inputs["userData"])
    assert user_data.startswith("#cloud-config") and volume.id.replace("-", "") in user_data
    registration = prod.named("ecs-clickhouse", "aws:servicediscovery/instance:Instance")
    assert registration.input("attributes") == {"AWS_INSTANCE_IPV4": "10.40.1.10"}


def test_task_roles_carry_only_their_workload_permissions(prod):
    policies = {p.outputs["arn"]: p.input("namePrefix") for p in prod.of_type("aws:iam/policy:Policy")}
    attached = {}
    for attachment in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if "-identity-task-" in attachment.name:
            attached.setdefault(attachment.name.split("-identity-")[0], []).append(policies[attachment.input("policyArn")])
    assert {role: sorted(arns) for role, arns in attached.items()} == {
        "ecs-litellm": ["llm-gateway-prod-bedrock-invoke-", "llm-gateway-prod-team-plane-reader-"],
        "ecs-langfuse": ["llm-gateway-prod-langfuse-storage-", "llm-gateway-prod-put-metrics-"],
        # The document, the teams' Langfuse pairs and their LiteLLM keys (the team plane only).
        "ecs-teams": ["llm-gateway-prod-team-plane-keys-", "llm-gateway-prod-team-plane-reader-"],
    }


def test_bucket_is_private_encrypted_versioned_and_tls_only(prod):
    buckets = {b.input("bucketPrefix"): b for b in prod.of_type("aws:s3/bucket:Bucket")}
    assert set(buckets) == {"llm-gateway-prod-langfuse-", "llm-gateway-prod-access-logs-", "llm-gateway-prod-team-plane-"}
    for block in prod.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(block.input(k) is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    for policy in prod.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        statements = json.loads(policy.input("policy"))["Statement"]
        assert statements[0]["Effect"] == "Deny" and statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    algorithms = sorted(
        e.input("rules")[0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        for e in prod.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    )
    assert algorithms == ["AES256", "aws:kms", "aws:kms"]  # ALB log delivery accepts SSE-S3 only
    assert all(v.input("versioningConfiguration")["status"] == "Enabled" for v in prod.of_type("aws:s3/bucketVersioning:BucketVersioning"))


def test_log_groups_keep_their_retention_and_are_encrypted(prod):
    settings = shipped_settings("prod")
    for group in prod.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group.input("retentionInDays") == settings.log_retention_days or "flow" in group.name
        assert group.input("kmsKeyId").startswith("arn:aws:kms:")


def test_container_insights_writes_into_an_owned_group(prod):
    (cluster,) = prod.of_type("aws:ecs/cluster:Cluster")
    group = prod.named("ecs-insights-logs", "aws:cloudwatch/logGroup:LogGroup")
    assert group.input("name") == f"/aws/ecs/containerinsights/{cluster.input('name')}/performance"
    assert group.input("retentionInDays") == 365 and group.input("kmsKeyId").startswith("arn:aws:kms:")
    assert group.urn in cluster.dependencies


def test_shipped_prod_config_renders_a_proxy_config_the_task_carries(prod):
    text = render_proxy_config(shipped_settings("prod")).text
    environment = {e["name"]: e["value"] for e in containers(prod)["litellm"]["environment"]}
    assert environment["LITELLM_PROXY_CONFIG"] == text


def test_external_clickhouse_replaces_the_host():
    run = EU_ECS.run()
    assert EU_ECS.config["clickhouse"] == {"externalUrl": "https://abc.clickhouse.cloud:8443", "externalUser": "lf"}
    assert not run.of_type("aws:ec2/instance:Instance") and not run.of_type("aws:ebs/volume:Volume")
    assert "clickhouse-ready" not in containers(run)
    environment = {e["name"]: e["value"] for e in containers(run)["langfuse-web"]["environment"]}
    assert (environment["CLICKHOUSE_URL"], environment["CLICKHOUSE_MIGRATION_URL"], environment["CLICKHOUSE_USER"]) == (
        "https://abc.clickhouse.cloud:8443", "clickhouse://abc.clickhouse.cloud:9440", "lf",
    )
    assert environment["CLICKHOUSE_MIGRATION_SSL"] == "true"
    egress = {(r.name.split("-to-")[0].removeprefix("security-groups-"), r.input("fromPort"))
              for r in run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") if r.input("cidrIpv4")}
    assert {("langfuse-web", 8443), ("langfuse-web", 9440), ("langfuse-worker", 8443), ("langfuse-worker", 9440)} <= egress
    assert "security-groups-clickhouse" not in {g.name for g in run.of_type("aws:ec2/securityGroup:SecurityGroup")}
    for resource in run.resources:  # the configured password travels only as a secret
        assert not any(EXTERNAL_CLICKHOUSE_PASSWORD in s for s in plain_strings(resource.inputs))
    # The migrator pastes it into a URL (Langfuse's up.sh): it reads the percent-encoded key.
    stored = secret_values(run)["clickhouse"]
    assert stored == {"user": "lf", "password": EXTERNAL_CLICKHOUSE_PASSWORD,
                      "passwordForUrl": "external%26clickhouse%23pass%2Bword%25"}
    migrator = {s["name"]: s["valueFrom"] for s in containers(run)["langfuse-migrator"]["secrets"]}
    assert migrator["CLICKHOUSE_PASSWORD"].endswith(":passwordForUrl::")


def test_the_generated_clickhouse_password_is_the_same_in_a_url():
    stored = secret_values(STG_ECS.run())["clickhouse"]
    assert stored["password"].isalnum() and stored["passwordForUrl"] == stored["password"]
