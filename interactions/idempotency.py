"""The `Idempotency-Key` request header (IETF httpapi-idempotency-key-header draft).

A key is chosen by the client, is unique per caller, and names one logical request: a
retry with the same key and the same body gets the first response again. Keys are kept
(IdempotencyRecord) for at least 24 hours; nothing in the application deletes them.
"""

import hashlib
from dataclasses import dataclass

import orjson

from clarity.api.errors import Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    fingerprint: str


def _invalid():
    return Problem(
        400,
        "The Idempotency-Key header is invalid.",
        errors={HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."]},
    )


def idempotency_key_from(request) -> str | None:
    """
    The key, or None without the header. The draft makes the value a structured-field
    string (`"abc"`); a bare token (`abc`) is accepted too, as most clients send one.
    Empty, longer than 255 characters or not printable ASCII → Problem 400.
    """
    raw = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in value):
        raise _invalid()
    return value


def request_fingerprint(*, target: str, body) -> str:
    """
    SHA-256 of the canonical JSON (sorted keys, no whitespace) of the parsed body and
    the resource it was sent to: the same key and body sent to another patient is a
    different request (422), never a replay of the first patient's rows.
    """
    canonical = orjson.dumps({"target": target, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
