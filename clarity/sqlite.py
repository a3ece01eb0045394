"""SQLite connection setup that Django 5.2 lacks.

Django 5.2 assumes SQLite's compile-time default of 999 bound parameters per statement,
so `bulk_create` of 1,000 eight-column rows becomes nine INSERTs and a request's query
count grows with its batch size. SQLite ≥ 3.32 defaults to 32,766 (Debian builds:
250,000), and Python ≥ 3.11 can read the real limit. Django 6.0 does the same
(ticket #36143: `max_query_params` respects SQLITE_LIMIT_VARIABLE_NUMBER).
"""

import sqlite3

from django.db.models import functions
from django.utils.deconstruct import deconstructible


def use_runtime_parameter_limit(sender, connection, **kwargs):
    """`connection_created` receiver: size Django's batches by this connection's real limit."""
    if connection.vendor != "sqlite":
        return
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    if limit > connection.features.max_query_params:
        connection.features.max_query_params = limit


@deconstructible(path="django.db.models.functions.datetime.Now")
class Now(functions.Now):
    """
    `Now()` whose SQLite text has the same form as the timestamps Django binds.

    SQLite keeps datetimes as text and compares them as text. Django's `Now()` writes
    `STRFTIME('%Y-%m-%d %H:%M:%f')` (milliseconds: "… 10:15:00.123") while Django binds a
    filter value with microseconds ("… 10:15:00.123000"), so `occurred_at >= <an event's
    own occurred_at>` was false on SQLite for the event itself. Padding to microseconds
    makes the two forms compare as the instants they are. PostgreSQL is unchanged.

    It deconstructs as Django's `Now` so no migration is needed: the SQL is chosen when
    an INSERT is compiled (SQLite takes no DEFAULT keyword in a multi-row INSERT, so Django
    always writes the expression), and the column's schema default on SQLite, used only by
    hand-written INSERTs, keeps Django's form.
    """

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="(STRFTIME('%%%%Y-%%%%m-%%%%d %%%%H:%%%%M:%%%%f', 'NOW') || '000')",
            **extra_context,
        )
