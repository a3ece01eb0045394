"""How every representation is written, whichever layer writes it (API, FHIR, export):
JSON bytes with orjson, and timestamps as ISO 8601 in UTC with `Z` (docs/api.md,
"Timestamps").

orjson writes the timestamps too. Representations hold `utc(value)` and `dumps` (OPT_UTC_Z)
writes it; where text is needed outside a JSON document (an error message, a FHIR field
built as text), `iso_datetime` gives the same characters. Formatting in Python instead
(`timezone.localtime(value).isoformat()` and a `+00:00` → `Z` swap) cost ~5 µs per
timestamp, paid per timestamp per row.
"""

import datetime
import decimal
import uuid

import orjson


def _default(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError


def dumps(data) -> bytes:
    """JSON with orjson: several times faster than the stdlib for list pages. UUIDs as their
    text, UTC datetimes with `Z` (OPT_UTC_Z): the one timestamp format."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


def utc(value: datetime.datetime | None) -> datetime.datetime | None:
    """`value` in UTC. A naive value is read as UTC, as DRF and Django read it with USE_TZ and
    TIME_ZONE = "UTC". Database values already are: they pass through untouched."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    if value.utcoffset():
        return value.astimezone(datetime.UTC)
    return value


def iso_datetime(value: datetime.datetime | None) -> str | None:
    """`value` as ISO 8601 text in UTC with `Z` ("2026-01-31T09:00:00.123456Z"), None for None:
    what `dumps` writes for `utc(value)`, and what DRF's DateTimeField writes."""
    if value is None:
        return None
    return orjson.dumps(utc(value), option=orjson.OPT_UTC_Z)[1:-1].decode()
