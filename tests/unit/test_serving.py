"""The timeouts between a client and Bedrock agree (services/serving.py), as both shipped stacks
render them: the load balancer registered by the program, the LiteLLM and Langfuse web containers
on Fargate (prod) and on the compose host (stg), the proxy config. How the servers honour them is
proven with the real proxy and Next.js (tests/integration/test_litellm_serving.py,
tests/integration/test_langfuse_keep_alive.py)."""

from __future__ import annotations

import json
import shlex

import pytest

from services.serving import FARGATE_MAX_STOP_SECONDS, SERVING
from renderers.compose_host.user_data import COMPOSE_FILE
from tests.support.hosts import written_files
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import unwrap
from tests.support import yaml_docs

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"


def containers(stack: str) -> dict[str, dict]:
    """Container name -> {"environment", "stop"} as the stack renders it: ECS task definitions
    (prod) or the host's compose file (stg)."""
    run = run_shipped(stack)
    if stack == "prod":
        return {
            definition["name"]: {"environment": {e["name"]: e["value"] for e in definition["environment"]},
                                 "stop": definition["stopTimeout"]}
            for task in run.of_type("aws:ecs/taskDefinition:TaskDefinition")
            for definition in json.loads(task.input("containerDefinitions"))
        }
    (instance,) = run.of_type("aws:ec2/instance:Instance")
    compose = yaml_docs.load(written_files(unwrap(instance.inputs["userData"]))[COMPOSE_FILE]["content"])
    return {name: {"environment": service.get("environment", {}), "stop": int(service["stop_grace_period"].removesuffix("s"))}
            for name, service in compose["services"].items()}


def load_balancer_idle(stack: str) -> int:
    (alb,) = run_shipped(stack).of_type("aws:lb/loadBalancer:LoadBalancer")
    return alb.input("idleTimeout")


def gunicorn(environment: dict[str, str]) -> dict[str, int]:
    words = shlex.split(environment["GUNICORN_CMD_ARGS"])
    return {words[i].removeprefix("--"): int(words[i + 1]) for i in range(0, len(words), 2)}


@pytest.mark.parametrize("stack", ["prod", "stg"])
def test_the_targets_keep_idle_connections_longer_than_the_load_balancer(stack):
    """Else the load balancer reuses a connection the target is closing: a 502 (services/serving.py)."""
    idle, rendered = load_balancer_idle(stack), containers(stack)
    assert idle == SERVING.load_balancer_idle
    assert gunicorn(rendered["litellm"]["environment"])["keep-alive"] == SERVING.keep_alive > idle
    assert int(rendered["langfuse-web"]["environment"]["KEEP_ALIVE_TIMEOUT"]) == SERVING.keep_alive * 1000 > idle * 1000


@pytest.mark.parametrize("stack", ["prod", "stg"])
def test_a_calls_timeouts_agree_from_the_proxy_to_the_load_balancer(stack):
    run, rendered = run_shipped(stack), containers(stack)
    litellm = rendered["litellm"]
    proxy = yaml_docs.load(litellm["environment"]["LITELLM_PROXY_CONFIG"])
    request = proxy["router_settings"]["timeout"]
    assert request == proxy["litellm_settings"]["request_timeout"] == SERVING.request
    # One try of a timed-out call, so the proxy's 408 comes before the load balancer gives up.
    assert proxy["router_settings"]["retry_policy"] == {"TimeoutErrorRetries": 0}
    assert request < load_balancer_idle(stack)
    # A worker retiring with a call in flight is killed no sooner than half gunicorn's --timeout.
    assert gunicorn(litellm["environment"])["timeout"] / 2 >= load_balancer_idle(stack)
    # Draining lets a call in flight run to the proxy's timeout and answer.
    (target_group,) = [t for t in run.of_type(TARGET_GROUP) if t.input("port") == 4000]
    assert target_group.input("deregistrationDelay") >= load_balancer_idle(stack)
    # gunicorn's master ends the workers' calls itself before Docker's SIGKILL.
    assert gunicorn(litellm["environment"])["graceful-timeout"] < litellm["stop"] <= FARGATE_MAX_STOP_SECONDS
