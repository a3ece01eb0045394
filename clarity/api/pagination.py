"""Keyset (seek) pagination for every collection.

The cursor names the last row seen by its sort key, so each page is an index range
scan: no OFFSET, no counting, stable under concurrent inserts. The order always ends in
a unique column, so it is total. The last row's sort key can be PHI (a patient's name),
and a cursor travels in URLs, proxy logs and browser history: cursors are sealed
(AES-256-GCM, clarity.crypto.seal), bound to the ordering they page, so a client can
neither read nor forge one. Anything that does not open, or does not hold the right
number of values of the right types, is a 400, not a 500.
"""

from collections.abc import Callable
from typing import NamedTuple

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework.utils.urls import remove_query_param, replace_query_param

from clarity.api.errors import Problem
from clarity.crypto import seal, unseal

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class Page(NamedTuple):
    """One page of a collection: its rows in order and the links to the pages beside it."""

    rows: list
    next: str | None
    previous: str | None

    def body(self, represent: Callable) -> dict:
        """The page as every list endpoint answers it (`paginated` in clarity/api/schema.py
        documents it): each row through the resource's one representation."""
        return {"results": [represent(row) for row in self.rows], "next": self.next, "previous": self.previous}


def page_size_from(request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    # ASCII digits only: str.isdigit() also accepts "²" (int() then raises: a 500) and "٣".
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise Problem(
            400,
            "A query parameter is invalid.",
            errors={"page_size": [f"Must be an integer from 1 to {MAX_PAGE_SIZE}."]},
        )
    return int(raw)


def _bad_cursor():
    return Problem(400, "A query parameter is invalid.", errors={"cursor": ["Invalid cursor."]})


class KeysetPaginator:
    """`KeysetPaginator(["family_name", "given_name", "id"])`; prefix "-" for descending."""

    def __init__(self, ordering: list[str]):
        self.ordering = ordering
        self.fields = [(name.lstrip("-"), name.startswith("-")) for name in ordering]
        self.purpose = "cursor:" + ",".join(ordering)

    # --- cursor encoding -------------------------------------------------------------
    def _encode(self, row, reverse: bool) -> str:
        values = []
        for name, _desc in self.fields:
            value = getattr(row, name)
            values.append(
                value.isoformat()
                if hasattr(value, "isoformat")
                else str(value)
                if not isinstance(value, int)
                else value
            )
        return self.seal_values(values, reverse)

    def seal_values(self, values: list, reverse: bool) -> str:
        return seal(orjson.dumps({"v": values, "r": reverse}), self.purpose)

    def _decode(self, model, cursor: str):
        raw = unseal(cursor, self.purpose) if len(cursor) <= 2048 else None
        if raw is None:
            raise _bad_cursor()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _bad_cursor() from None
        if not isinstance(data, dict) or not isinstance(data.get("v"), list) or not isinstance(data.get("r"), bool):
            raise _bad_cursor()
        values = data["v"]
        if len(values) != len(self.fields):
            raise _bad_cursor()
        parsed = []
        for (name, _desc), value in zip(self.fields, values, strict=True):
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise _bad_cursor()
            # A NUL in a text value would reach PostgreSQL, which refuses it with a DataError (500).
            if isinstance(value, str) and "\x00" in value:
                raise _bad_cursor()
            field = model._meta.get_field(name)
            try:
                python_value = field.to_python(value)
            except (DjangoValidationError, ValueError, TypeError, OverflowError):
                raise _bad_cursor() from None
            if python_value is None:
                raise _bad_cursor()
            if hasattr(python_value, "tzinfo") and hasattr(python_value, "hour") and python_value.tzinfo is None:
                raise _bad_cursor()
            parsed.append(python_value)
        return parsed, data["r"]

    # --- query ---------------------------------------------------------------------
    def _after(self, values, reverse: bool) -> Q:
        """Rows strictly after `values` in the (possibly reversed) order."""
        clauses = Q()
        for index, (name, desc) in enumerate(self.fields):
            going_down = desc != reverse
            condition = Q(**{f"{name}__{'lt' if going_down else 'gt'}": values[index]})
            for earlier_index in range(index):
                condition &= Q(**{self.fields[earlier_index][0]: values[earlier_index]})
            clauses |= condition
        # The same bound on the leading column alone lets the planner use it as an index condition.
        first_name, first_desc = self.fields[0]
        bound = Q(**{f"{first_name}__{'lte' if first_desc != reverse else 'gte'}": values[0]})
        return bound & clauses

    def _order(self, reverse: bool) -> list[str]:
        if not reverse:
            return self.ordering
        return [name[1:] if name.startswith("-") else f"-{name}" for name in self.ordering]

    def page(self, queryset, after: list | None, reverse: bool, size: int):
        """The queryset of one page: `size` rows strictly after the sort key `after` (None:
        from the start) in the order, or in the reversed order with `reverse`."""
        if after is not None:
            queryset = queryset.filter(self._after(after, reverse))
        return queryset.order_by(*self._order(reverse))[:size]

    def paginate(self, queryset, request, page_size: int | None = None) -> Page:
        """One Page of the queryset; its rows are model instances in order."""
        return self.paginate_rows(
            lambda after, reverse, size: list(self.page(queryset, after, reverse, size)),
            queryset.model,
            request,
            page_size,
        )

    def paginate_rows(self, fetch, model, request, page_size: int | None = None) -> Page:
        """`paginate` for rows that `fetch(after, reverse, size)` reads as `page` would
        (e.g. through a clarity.compiled.QueryTemplate); `model` types the cursor's values."""
        size = page_size if page_size is not None else page_size_from(request)
        cursor = request.query_params.get("cursor")
        after, reverse = None, False
        if cursor:
            after, reverse = self._decode(model, cursor)
        rows = fetch(after, reverse, size + 1)
        has_more = len(rows) > size
        rows = rows[:size]
        if reverse:
            rows.reverse()
        url = request.build_absolute_uri()
        next_url = previous_url = None
        if rows:
            if has_more or reverse:
                next_url = replace_query_param(url, "cursor", self._encode(rows[-1], False))
            if cursor and (has_more or not reverse):
                previous_url = replace_query_param(url, "cursor", self._encode(rows[0], True))
        elif cursor and not reverse:
            # Walked past the end: the way back is the first page.
            previous_url = remove_query_param(url, "cursor")
        return Page(rows, next_url, previous_url)
