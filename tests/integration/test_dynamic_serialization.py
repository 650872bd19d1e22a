"""The dynamic providers survive the trip the engine gives them: dill by reference, loaded in a
separate interpreter started in the project directory (and only there). Integration tier: each
case starts a fresh Python that imports Pulumi, as the engine's provider host does."""

from __future__ import annotations

import base64

import pytest

from components.docker_job import DockerJobProvider
from components.host_command import HostCommandProvider
from components.one_off_task import OneOffTaskProvider
from tests.support.dynamic_providers import run_serialized_provider, serialized
from tests.support.stacks import ROOT

pytestmark = pytest.mark.integration

PROVIDERS = {
    "one_off_task": (OneOffTaskProvider, "provider.diff('id', {'trigger': 'a'}, {'trigger': 'b'}).changes", "True"),
    "host_command": (HostCommandProvider, "provider.diff('id', {'trigger': 'a'}, {'trigger': 'b'}).changes", "True"),
    "docker_job": (DockerJobProvider, "provider.diff('id', {'trigger': 'a'}, {'trigger': 'b'}).changes", "True"),
}


@pytest.mark.parametrize("module", sorted(PROVIDERS))
def test_provider_loads_in_a_fresh_process_started_in_the_project_dir(module):
    provider_class, call, expected = PROVIDERS[module]
    payload = serialized(provider_class())
    # A pickle by reference: the class and its defaults are named, not embedded.
    assert f"components.{module}".encode() in base64.b64decode(payload)
    loaded = run_serialized_provider(payload, ROOT, call)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == [f"components.{module}", expected]


@pytest.mark.parametrize("module", sorted(PROVIDERS))
def test_provider_needs_the_project_dir_on_the_import_path(module, tmp_path):
    loaded = run_serialized_provider(serialized(PROVIDERS[module][0]()), tmp_path, "0")
    assert loaded.returncode != 0
    assert "No module named 'components'" in loaded.stderr
