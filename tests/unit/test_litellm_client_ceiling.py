"""How many Langfuse clients LiteLLM's start lets each process cache (team_plane/litellm_start.py):
every team's and the platform's. The start against S3 and Secrets Manager:
tests/integration/test_litellm_start.py."""

from __future__ import annotations

import pytest

from team_plane.litellm_start import langfuse_client_ceiling


@pytest.mark.parametrize("team_count, ceiling", [(0, 50), (3, 50), (24, 50), (48, 98), (60, 122), (200, 402)])
def test_langfuse_client_ceiling_covers_every_team_and_the_platform(team_count, ceiling):
    assert langfuse_client_ceiling(team_count) == ceiling
    assert ceiling >= team_count + 1  # every team's pair and the platform's, with headroom past 24 teams
