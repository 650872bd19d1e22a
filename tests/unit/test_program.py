"""The whole program under mocks, for every shipped stack and for bad configs."""

from __future__ import annotations

import contextlib
import json

import pytest

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
    """The harness answers the SDK's monitor calls in the calling task (pulumi_mocks.py
    `_monitor_calls_in_the_calling_task`); the SDK's own way, a thread per call, registers the same."""
    in_task = run_shipped("stg")
    monkeypatch.setattr(pulumi_mocks, "_monitor_calls_in_the_calling_task", contextlib.nullcontext)
    in_threads = run_program("stg", *runtime_config("stg"))

    assert registered(in_task) == registered(in_threads)
    assert len(in_task.resources) > 100
    assert invoked(in_task) == invoked(in_threads) != []
    assert (in_task.outputs, in_task.secret_outputs) == (in_threads.outputs, in_threads.secret_outputs)


def registered(run: ProgramRun) -> list[tuple]:
    """What a run registered, in an order of its own: registrations in flight at once arrive in any order."""
    return sorted((r.typ, r.name, r.urn, r.parent, r.custom, r.protect, sorted(r.dependencies),
                   {key: sorted(urns) for key, urns in r.property_dependencies.items()}) for r in run.resources)


def invoked(run: ProgramRun) -> list[str]:
    return sorted(json.dumps([call.token, unwrap(call.args)], sort_keys=True) for call in run.mocks.calls)
