"""The team-plane job: reconciles LiteLLM teams and Langfuse projects to the stack's team document
(renderers/team_document.py), inside the VPC. Standard library (+ boto3 where noted) only: it runs in the
LiteLLM image, embedded in the task definition / compose file (team_plane/embed.py)."""

from pathlib import Path


def source(module: str) -> str:
    """A module's text. The containers' bootstrap replaces this with the code it downloaded."""
    return (Path(__file__).parent / f"{module}.py").read_text()
