"""The whole program under mocks, for every shipped stack and for bad configs."""

from __future__ import annotations

import pytest

from config.loader import SettingsError
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import RecordingMocks, run_program
from tests.support.settings import settings_config
from tests.support.stacks import SHIPPED_STACKS, to_runtime


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
