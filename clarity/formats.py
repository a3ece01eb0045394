"""How every representation is written, whichever layer writes it (API, FHIR, export):
JSON bytes with orjson, and timestamps as ISO 8601 in UTC with `Z`."""

import datetime
import decimal
import uuid

import orjson
from django.utils import timezone


def _default(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError


def dumps(data) -> bytes:
    """JSON with orjson: several times faster than the stdlib for list pages."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


def iso_datetime(value) -> str | None:
    """What DRF's DateTimeField writes for an aware datetime: ISO 8601 in TIME_ZONE (UTC),
    `Z` for +00:00. For representations built without a serializer."""
    if value is None:
        return None
    # The default zone, as no request activates another: timezone.localtime() looks the
    # active zone up in an asgiref Local on every call (~6 % of a 100-row batch's CPU).
    text = value.astimezone(timezone.get_default_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
