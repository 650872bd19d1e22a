"""The tests of one `xdist_group` run on one worker under `--dist loadgroup` (make test): the
scheduler knows a test's group only by the `@<group>` at the end of its node id, which
tests/conftest.py puts there for pytest 9.2 (pytest-dev/pytest-xdist#1386); without loadgroup the
node id is left as pytest made it (make unit claims a group whole: tests/integration/test_unit_tier.py).
And the longest-first order (make test, make unit) names modules that exist."""

from __future__ import annotations

import pytest

from tests.conftest import INTEGRATION_DIR, LONGEST_FIRST

pytestmark = pytest.mark.xdist_group("xdist-groups")


def test_a_grouped_test_carries_its_group_to_the_scheduler(request):
    assert request.node.nodeid.endswith("@xdist-groups") == request.config.getoption("loadgroup", False)


def test_every_module_ranked_longest_first_exists():
    """A renamed module would silently fall back to collection order."""
    modules = {path.stem for path in INTEGRATION_DIR.parent.glob("*/test_*.py")}
    assert set(LONGEST_FIRST) <= modules
