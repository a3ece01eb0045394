"""The one format of a timestamp Clarity writes: ISO 8601 in UTC with `Z` (docs/api.md,
"Timestamps"). Representations, error messages and the streamed export all use it."""

import datetime

import orjson


def iso_datetime(value: datetime.datetime | None) -> str | None:
    """
    `value` as ISO 8601 in UTC with `Z` ("2026-01-31T09:00:00.123456Z"), None for None.
    What DRF's DateTimeField writes under TIME_ZONE = "UTC", and, byte for byte, what the
    renderer's orjson writes for a UTC datetime (it is orjson that formats it here: ~0.5 µs
    against ~5 µs for `timezone.localtime(value).isoformat()`, paid per timestamp per row).
    A naive value is read as UTC, as DRF and Django do with USE_TZ and TIME_ZONE = "UTC".
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    elif value.utcoffset():
        value = value.astimezone(datetime.UTC)
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()
