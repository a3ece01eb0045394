"""JSON rendering with orjson: several times faster than the stdlib for list pages."""

import datetime
import decimal
import uuid

import orjson
from rest_framework.renderers import BaseRenderer


def _default(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError


def dumps(data) -> bytes:
    # OPT_UTC_Z: a datetime that reaches the renderer unformatted is still written in the one
    # timestamp format (UTC, `Z`; clarity.timestamps), as the representations write theirs.
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


class JSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return dumps(data)
