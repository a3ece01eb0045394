"""ORM querysets built and compiled once per shape, then run with new values (PostgreSQL).

A page of interactions spent ~20 % of its CPU under load building its queryset (five
clones: filter, annotate, values_list, order_by, slice) and compiling it to SQL, to send
the same statement with new values every time. A `QueryTemplate` keeps the ORM as the one
definition of the query: `build(shape, **values)` is the ordinary queryset code, called
once per shape with stand-in values. The compiled statement is kept with the positions of
the stand-ins among its parameters, and later calls bind the real values there; psycopg
then prepares the statement, so PostgreSQL does not parse or plan it again either.

The shape is everything that changes the SQL rather than its parameters: which values
are None (their filters are left out) and the `shape` argument (e.g. the direction and
size of a page: Django writes LIMIT into the SQL). A shape whose stand-ins do not all
reach the statement as parameters (a value written into the SQL) is never templated: it
is built and compiled per call, as elsewhere than PostgreSQL.
"""

import datetime
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable

from django.db import connections
from django.db.models.utils import create_namedtuple_class

MAX_SHAPES = 256


def _stand_in(value):
    """A value of the same type as `value` that nothing else in a statement can equal."""
    if isinstance(value, bool):
        raise TypeError("a bool changes a query's shape: pass it in `shape`")
    if isinstance(value, uuid.UUID):
        return uuid.uuid4()
    if isinstance(value, datetime.datetime):
        return datetime.datetime(2999, 1, 1, tzinfo=value.tzinfo) + datetime.timedelta(
            microseconds=secrets.randbelow(10**12)
        )
    if isinstance(value, int):
        return 7 * 10**17 + secrets.randbelow(10**17)
    if isinstance(value, str):
        return f"clarity-stand-in-{secrets.token_hex(12)}"
    raise TypeError(f"no stand-in for a {type(value).__name__}")


class _Compiled:
    def __init__(self, compiler, sql: str, params: list, slots: dict[int, str], names: list[str]):
        self.compiler, self.sql, self.params, self.slots = compiler, sql, params, slots
        self.row = create_namedtuple_class(*names)


class QueryTemplate:
    """`QueryTemplate(build)`; `rows(alias, shape, **values)` runs `build(shape, **values)`,
    a values_list(named=True) queryset, and returns its rows as a list."""

    def __init__(self, build: Callable):
        self.build = build
        self._compiled: OrderedDict[Hashable, _Compiled | None] = OrderedDict()

    def rows(self, alias: str, shape: Hashable, **values) -> list:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            return list(self.build(shape, **values).using(alias))
        key = (alias, shape, tuple(sorted((name, value is None) for name, value in values.items())))
        compiled = self._compiled.get(key, False)
        if compiled is False:
            compiled = self._compile(alias, shape, values)
            self._compiled[key] = compiled
            if len(self._compiled) > MAX_SHAPES:
                self._compiled.popitem(last=False)
        if compiled is None:
            return list(self.build(shape, **values).using(alias))
        params = list(compiled.params)
        for position, name in compiled.slots.items():
            params[position] = values[name]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            raw = cursor.fetchall()
        new = tuple.__new__
        return [new(compiled.row, row) for row in compiled.compiler.results_iter(results=[raw], tuple_expected=True)]

    def _compile(self, alias: str, shape, values: dict) -> _Compiled | None:
        stand_ins = {name: _stand_in(value) for name, value in values.items() if value is not None}
        queryset = self.build(shape, **{name: stand_ins.get(name) for name in values}).using(alias)
        query = queryset.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        if list(queryset._fields) != names:
            return None  # the rows would need reordering: let the ORM do it
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        by_value = {value: name for name, value in stand_ins.items()}
        slots = {position: by_value[param] for position, param in enumerate(params) if _hashable(param) in by_value}
        if set(slots.values()) != set(stand_ins):
            return None  # a value was written into the SQL, not bound
        return _Compiled(compiler, sql, list(params), slots, names)


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return None
    return value
