"""SQLite connection setup that Django 5.2 lacks.

Django 5.2 assumes SQLite's compile-time default of 999 bound parameters per statement,
so `bulk_create` of 1,000 eight-column rows becomes nine INSERTs and a request's query
count grows with its batch size. SQLite ≥ 3.32 defaults to 32,766 (Debian builds:
250,000), and Python ≥ 3.11 can read the real limit. Django 6.0 does the same
(ticket #36143: `max_query_params` respects SQLITE_LIMIT_VARIABLE_NUMBER).
"""

import sqlite3


def use_runtime_parameter_limit(sender, connection, **kwargs):
    """`connection_created` receiver: size Django's batches by this connection's real limit."""
    if connection.vendor != "sqlite":
        return
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    if limit > connection.features.max_query_params:
        connection.features.max_query_params = limit
