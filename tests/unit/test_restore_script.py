"""scripts/restore.py without AWS: the name it gives a restored instance, the state hand-over.
(Against moto's EC2, RDS, ECS and SSM: tests/integration/test_restore.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from scripts import restore
from tests.support.settings import make_settings

STACK = "prod"


def test_the_restored_name_is_what_the_loader_accepts():
    name = restore.restored_identifier("prod", datetime(2026, 10, 12, 10, 30, tzinfo=UTC), datetime.now(UTC))
    assert make_settings(stack="prod", database={"restoredInstance": name}).database.restored_instance == name


def test_adopt_moves_only_the_named_resource(tmp_path):
    urn = restore.DATABASE_URN.format(stack=STACK)
    state = {"version": 3, "deployment": {"resources": [
        {"urn": urn, "id": "db-OLD", "type": "aws:rds/instance:Instance", "protect": True},
        {"urn": urn.replace("database-instance", "database-subnets"), "id": "database-subnets"},
    ]}}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    restore.main(["adopt", "--state", str(path), "--urn", urn, "--id", "db-NEW"])
    resources = json.loads(path.read_text())["deployment"]["resources"]
    assert resources[0] == {"urn": urn, "id": "db-NEW", "type": "aws:rds/instance:Instance", "protect": True}
    assert resources[1]["id"] == "database-subnets"
    with pytest.raises(SystemExit, match="is not in this state"):
        restore.adopt(state, urn.replace("prod", "stg"), "db-NEW")
