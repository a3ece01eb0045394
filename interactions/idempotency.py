"""The `Idempotency-Key` request header (IETF httpapi-idempotency-key-header draft).

A key is chosen by the client, is unique per caller, and names one logical request: a
retry with the same key and the same body gets the first response again. Keys are kept
(IdempotencyRecord) for at least 24 hours; nothing in the application deletes them.
The view reads the header (`interactions.views.idempotency_key_from`); the service keeps
and checks the key.
"""

import hashlib
from dataclasses import dataclass

import orjson

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    fingerprint: str


def request_fingerprint(*, target: str, body) -> str:
    """
    SHA-256 of the canonical JSON (sorted keys, no whitespace) of the parsed body and
    the resource it was sent to: the same key and body sent to another patient is a
    different request (422), never a replay of the first patient's rows.
    """
    canonical = orjson.dumps({"target": target, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
