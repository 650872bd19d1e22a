"""llm-gateway: wire the foundation, the team plane and the platform of the stack's compute; export.
Nothing else happens here."""

import pulumi

from config.settings import LOCAL
from config.stack_config import read_settings
from program.exports import aws_exports
from program.foundation import build_foundation
from program.monitoring import build_monitoring
from program.platform import TARGET_TYPES, build_platform
from program.team_plane import declare_team_plane

settings = read_settings()  # raises before any resource is registered when the config is bad
if settings.compute == LOCAL:
    # The deploying machine's Docker and no AWS account: no AWS foundation. Imported here alone, so
    # the AWS stacks never load pulumi-docker (program/local.py).
    from program.local import build_local, build_local_foundation, declare_local_team_plane, local_exports

    foundation = build_local_foundation(settings)
    team_plane = declare_local_team_plane(foundation)
    platform = build_local(foundation, team_plane)
    exports = local_exports(foundation, team_plane, platform)
else:
    foundation = build_foundation(settings, target_type=TARGET_TYPES[settings.compute])
    team_plane = declare_team_plane(foundation)
    platform = build_platform(settings, foundation, team_plane.platform_inputs())
    exports = aws_exports(foundation, team_plane, platform, build_monitoring(foundation, platform))

for name, value in exports.items():
    pulumi.export(name, value)
