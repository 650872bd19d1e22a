"""The whole program under mocks, for every shipped stack and for bad configs."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import uuid
from types import SimpleNamespace
from unittest import mock

import pytest

from pulumi.runtime.sync_await import _ensure_event_loop

from config.loader import SettingsError
from tests.support.program import run_shipped
from tests.support import pulumi_mocks
from tests.support.pulumi_mocks import ProgramRun, RecordingMocks, run_program, unwrap
from tests.support.settings import settings_config
from tests.support.stacks import SHIPPED_STACKS, runtime_config, to_runtime


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stack_runs(stack):
    assert run_shipped(stack).outputs["environment"] == stack


def test_bad_config_fails_before_any_resource_is_registered():
    config, secret_keys = to_runtime(settings_config(teams=[{"name": "Home Rentals"}], compute="k8s"))
    mocks = RecordingMocks()
    with pytest.raises(SettingsError) as raised:
        run_program("stg", config, secret_keys, mocks=mocks)
    assert mocks.registrations == [] and mocks.calls == []
    assert "teams[0].name 'Home Rentals' must match" in str(raised.value)
    assert "compute 'k8s' must be one of: ecs, ec2, local" in str(raised.value)


def test_the_mocks_answer_the_sdk_as_its_own_executor_threads_would(monkeypatch):
    """The harness answers the SDK's calls to the mock monitor in the calling task, never through the
    loop's executor (pulumi_mocks.py `_monitor_calls_in_the_calling_task`). The SDK's own way, a
    thread per call, registers the same resources with the same inputs, outputs and dependencies,
    and makes the same invokes."""
    sdk_loop = type(_ensure_event_loop())
    executor_path, handed_to_threads = sdk_loop.run_in_executor, []

    def counted(loop, executor, call, *args):
        handed_to_threads.append(call)
        return executor_path(loop, executor, call, *args)

    monkeypatch.setattr(sdk_loop, "run_in_executor", counted)
    monkeypatch.setattr(RecordingMocks, "_computed", random_by_resource(RecordingMocks._computed))
    config = runtime_config("stg")
    in_task = run_program("stg", *config)
    assert handed_to_threads == []
    monkeypatch.setattr(pulumi_mocks, "_monitor_calls_in_the_calling_task", contextlib.nullcontext)
    in_threads = run_program("stg", *config)

    assert len(handed_to_threads) > len(in_threads.resources) > 100
    assert registered(in_task) == registered(in_threads)
    assert invoked(in_task) == invoked(in_threads) != []
    assert (in_task.outputs, in_task.secret_outputs) == (in_threads.outputs, in_threads.secret_outputs)


def random_by_resource(computed):
    """The mocks' `_computed` drawing its random values (passwords, UUIDs, bytes) from a generator
    seeded by the resource, so that they do not depend on the order registrations arrive in."""
    one_at_a_time = threading.Lock()  # the SDK's threads register several resources at once

    def seeded(mocks, typ, name, inputs):
        draw = random.Random(f"{typ}/{name}")
        with one_at_a_time, mock.patch.multiple(
            pulumi_mocks, random=SimpleNamespace(Random=random.Random, choice=draw.choice, shuffle=draw.shuffle),
            secrets=SimpleNamespace(token_bytes=draw.randbytes),
            uuid=SimpleNamespace(UUID=uuid.UUID, uuid4=lambda: uuid.UUID(int=draw.getrandbits(128), version=4)),
        ):
            return computed(mocks, typ, name, inputs)

    return seeded


def registered(run: ProgramRun) -> list[str]:
    """Every registration, in an order of its own: registrations in flight at once arrive in any order."""
    return sorted(json.dumps([r.typ, r.name, r.urn, r.parent, r.custom, r.protect, r.id, sorted(r.dependencies),
                              {key: sorted(urns) for key, urns in r.property_dependencies.items()}, r.inputs, r.outputs],
                             sort_keys=True) for r in run.resources)


def invoked(run: ProgramRun) -> list[str]:
    return sorted(json.dumps([call.token, unwrap(call.args)], sort_keys=True) for call in run.mocks.calls)
