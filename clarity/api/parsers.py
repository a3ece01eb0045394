"""The only request body format the API accepts: strict JSON.

Malformed JSON, NaN/Infinity, invalid UTF-8, NUL characters anywhere (keys or values),
and nesting deeper than 32 levels are refused with a 400 before any view code runs.
"""

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_DEPTH = 32
DEPTH_MESSAGE = "The request body is nested more than 32 levels deep."
# No endpoint takes more than 1,000 items (the interaction batch) or a few dozen fields at
# the top level of a body. Past 10,000 the body is refused before its structure is walked
# and before any serializer sees it: 1.5 M empty objects or 100,000 unknown keys cost a
# parse, not seconds of validation and a multi-megabyte error body.
MAX_TOP_LEVEL_ITEMS = 10_000


class BodyRejected(ParseError):
    pass


def check_structure(value, depth: int = 1):
    """Walk the parsed document iteratively; raise BodyRejected on NUL or excessive depth."""
    if isinstance(value, dict | list) and len(value) > MAX_TOP_LEVEL_ITEMS:
        raise BodyRejected(f"The request body holds more than {MAX_TOP_LEVEL_ITEMS} items at its top level.")
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            if level > MAX_DEPTH:
                raise BodyRejected(DEPTH_MESSAGE)
            for key, sub in item.items():
                if "\x00" in key:
                    raise BodyRejected("The request body contains a NUL character.")
                if isinstance(sub, dict | list):
                    stack.append((sub, level + 1))
                elif isinstance(sub, str) and "\x00" in sub:
                    raise BodyRejected("The request body contains a NUL character.")
        elif isinstance(item, list):
            if level > MAX_DEPTH:
                raise BodyRejected(DEPTH_MESSAGE)
            for sub in item:
                if isinstance(sub, dict | list):
                    stack.append((sub, level + 1))
                elif isinstance(sub, str) and "\x00" in sub:
                    raise BodyRejected("The request body contains a NUL character.")
        elif isinstance(item, str) and "\x00" in item:
            raise BodyRejected("The request body contains a NUL character.")


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            # orjson stops at 1024 levels: valid JSON, refused for its depth like 33 levels.
            if "depth" in exc.msg:
                raise BodyRejected(DEPTH_MESSAGE) from None
            raise ParseError("The request body is not valid JSON.") from None
        check_structure(data)
        return data
