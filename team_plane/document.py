"""Reading the team document (written by renderers/team_document.py)."""

from __future__ import annotations

import json
from typing import Any

DOCUMENT_VERSION = 2


def parse_team_document(text: str) -> dict[str, Any]:
    """The document back from its stored text; refuses one this code does not understand."""
    document = json.loads(text)
    if document.get("version") != DOCUMENT_VERSION:
        raise ValueError(f"team-plane document version {document.get('version')!r}, expected {DOCUMENT_VERSION}")
    return document
