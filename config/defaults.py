"""Safe defaults per environment for every sizing group.

stg is one cheap host whose container limits fit its memory; prod runs Langfuse at its documented
minimums (langfuse.com/self-hosting/configuration/scaling: web and worker 2 CPU / 4 GiB, ClickHouse
2 CPU / 8 GiB), two LiteLLM tasks, a Multi-AZ database and a NAT per AZ over two AZs, within the cost
goal (renderers/cost.py). A stack overrides any key.
"""

from __future__ import annotations

from reference.images import DEFAULT_IMAGES

# Ubuntu 24.04 arm64 release image ubuntu-noble-24.04-arm64-server-20260923 (Canonical, owner
# 099720109477), named by two public repositories that launched it in 2026-09/10. Moving it
# replaces the hosts: see README "Moving the hosts to a new Ubuntu image".
UBUNTU_SERIAL = "20260923"

GROUP_DEFAULTS: dict[str, dict[str, dict[str, object]]] = {
    "network": {
        "stg": {
            "vpcCidr": "10.40.0.0/16", "azCount": 2, "natGateways": "single",
            "interfaceEndpoints": False, "flowLogRetentionDays": 30,
        },
        "prod": {
            # Two AZs, each with its own NAT: what the Langfuse minimums cost is taken from a third AZ.
            "vpcCidr": "10.50.0.0/16", "azCount": 2, "natGateways": "perAz",
            "interfaceEndpoints": False, "flowLogRetentionDays": 365,
        },
    },
    "database": {
        "stg": {
            "engineVersion": "17", "instanceClass": "db.t4g.micro", "allocatedStorageGb": 20,
            "maxAllocatedStorageGb": 100, "multiAz": False, "backupRetentionDays": 7,
            "performanceInsights": False, "restoredInstance": None,
        },
        "prod": {
            "engineVersion": "17", "instanceClass": "db.t4g.small", "allocatedStorageGb": 20,
            "maxAllocatedStorageGb": 200, "multiAz": True, "backupRetentionDays": 14,
            "performanceInsights": True, "restoredInstance": None,
        },
    },
    "litellm": {
        "stg": {
            "image": DEFAULT_IMAGES["litellm"], "cpu": 512, "memory": 1024, "desiredCount": 1,
            "maxCount": 2, "maxRequestsBeforeRestart": 10000,
        },
        "prod": {
            "image": DEFAULT_IMAGES["litellm"], "cpu": 1024, "memory": 2048, "desiredCount": 2,
            "maxCount": 6, "maxRequestsBeforeRestart": 10000,
        },
    },
    "langfuse": {
        "stg": {
            "webImage": DEFAULT_IMAGES["langfuse-web"],
            "workerImage": DEFAULT_IMAGES["langfuse-worker"],
            "webCpu": 512, "webMemory": 1024, "webDesiredCount": 1, "webMaxCount": 2,
            "workerCpu": 256, "workerMemory": 512, "workerDesiredCount": 1,
            "telemetryEnabled": False, "authDisableSignup": False,
            "adminEmail": "admin@example.com", "organizationName": "llm-gateway",
        },
        "prod": {
            "webImage": DEFAULT_IMAGES["langfuse-web"],
            "workerImage": DEFAULT_IMAGES["langfuse-worker"],
            # One web task at the minimum (autoscaled to 4) rather than two below it.
            "webCpu": 2048, "webMemory": 4096, "webDesiredCount": 1, "webMaxCount": 4,
            "workerCpu": 2048, "workerMemory": 4096, "workerDesiredCount": 1,
            "telemetryEnabled": False, "authDisableSignup": False,
            "adminEmail": "admin@example.com", "organizationName": "llm-gateway",
        },
    },
    "clickhouse": {
        "stg": {"image": DEFAULT_IMAGES["clickhouse"], "instanceType": "t4g.medium", "dataVolumeGb": 30,
                "externalUrl": None, "externalUser": "default"},
        # 2 whole vCPUs (a t4g sustains 30% of each) and more than 8 GiB left after the host's share.
        "prod": {"image": DEFAULT_IMAGES["clickhouse"], "instanceType": "r7g.large", "dataVolumeGb": 100,
                 "externalUrl": None, "externalUser": "default"},
    },
    "redis": {
        "stg": {
            "image": DEFAULT_IMAGES["redis"], "nodeType": "cache.t4g.micro",
            "engineVersion": "8.0", "replicas": 0,
        },
        "prod": {
            "image": DEFAULT_IMAGES["redis"], "nodeType": "cache.t4g.micro",
            "engineVersion": "8.0", "replicas": 1,
        },
    },
    "loadBalancer": {
        "stg": {"scheme": "internet-facing", "public": False},
        "prod": {"scheme": "internet-facing", "public": False},
    },
    # Daily snapshots of the data volumes, kept as long as the database's point-in-time window and more.
    "backup": {
        "stg": {"snapshotRetentionDays": 7, "snapshotTime": "03:00", "copyToRegion": None, "copyKmsKeyArn": None},
        "prod": {"snapshotRetentionDays": 30, "snapshotTime": "03:00", "copyToRegion": None, "copyKmsKeyArn": None},
    },
    "host": {
        # t4g.medium leaves ClickHouse 512 MiB of what its kernel offers (services/specs.py gateway_host_specs).
        "stg": {"instanceType": "t4g.large", "dataVolumeGb": 30, "rootVolumeGb": 30, "ubuntuSerial": UBUNTU_SERIAL},
        "prod": {"instanceType": "t4g.xlarge", "dataVolumeGb": 100, "rootVolumeGb": 30, "ubuntuSerial": UBUNTU_SERIAL},
    },
    # Thresholds: stg tolerates more (one small host, little traffic); prod pages earlier. Connections
    # stay under RDS's default max_connections for the class (LEAST(DBInstanceClassMemory/9531392,
    # 5000), RDS User Guide "Maximum number of database connections": ~100 on db.t4g.micro, ~200 on
    # db.t4g.small).
    "alarms": {
        "stg": {
            "emails": (), "http5xxPercent": 10, "unhealthyHosts": 1, "diskUsedPercent": 85,
            "databaseCpuPercent": 90, "databaseFreeStorageGb": 2, "databaseConnections": 80,
            "valkeyMemoryPercent": 80, "langfuseQueueLength": 1000, "litellmErrors": 50,
        },
        "prod": {
            "emails": (), "http5xxPercent": 5, "unhealthyHosts": 1, "diskUsedPercent": 80,
            "databaseCpuPercent": 80, "databaseFreeStorageGb": 5, "databaseConnections": 160,
            "valkeyMemoryPercent": 75, "langfuseQueueLength": 5000, "litellmErrors": 25,
        },
    },
}

# The smoke test costs one tiny Bedrock call per team per deploy: on in stg, where every change lands
# first; prod runs it with `make smoke` (or `smokeTest: true`).
TOP_LEVEL_DEFAULTS: dict[str, dict[str, object]] = {
    "stg": {"protect": False, "logRetentionDays": 30, "smokeTest": True},
    "prod": {"protect": True, "logRetentionDays": 365, "smokeTest": False},
}
