"""Optimistic concurrency over HTTP: strong ETags from `version`, and the If-Match header."""

import re

from clarity.api.errors import Problem
from clarity.concurrency import IfMatch
from clarity.errors import PreconditionRequired

_ENTITY_TAG = re.compile(r'^(W/)?"([^"]*)"$')


def etag_for(version: int) -> str:
    return f'"{version}"'


def parse_if_match(request, *, required: bool = False) -> IfMatch | None:
    raw = request.META.get("HTTP_IF_MATCH")
    if raw is None or raw.strip() == "":
        if required:
            raise PreconditionRequired()
        return None
    raw = raw.strip()
    if raw == "*":
        return IfMatch(True, frozenset())
    versions = set()
    for part in raw.split(","):
        match = _ENTITY_TAG.match(part.strip())
        if not match:
            raise Problem(
                400, "The If-Match header is malformed.", errors={"If-Match": ['Must be an ETag such as "3".']}
            )
        weak, value = match.groups()
        # If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
        # ASCII digits only: str.isdigit() accepts "²", which int() refuses (a 500).
        if not weak and value.isascii() and value.isdigit() and len(value) < 19:
            versions.add(int(value))
    return IfMatch(False, frozenset(versions))
