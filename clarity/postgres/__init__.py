"""PostgreSQL connection setup that Django 5.2 lacks (the SQLite side is clarity/sqlite.py).

Django reads every timestamptz through its own loader, a Python subclass of psycopg's
pure-Python one that pins the tzinfo to the connection's time zone, so psycopg's compiled
parser is never used: 4.9 µs a value against 0.35 µs. A page of 50 interactions holds 100
timestamps; under the peer harness's load their parsing was 9 % of the request's CPU
(py-spy). The loader below keeps Django's class, whose `timezone` Django's cursors compare
against their connection's, and parses with the compiled loader, which reads the offset
PostgreSQL writes: in the UTC session Django keeps, the same datetimes in UTC.

`planned_for_its_values` is the one exception to preparing statements (settings,
DATABASE_PREPARE_THRESHOLD). The package is also the database backend (ENGINE
"clarity.postgres", base.py): Django's, with its own check of pooled connections.
"""

import datetime
from contextlib import contextmanager

from django.conf import settings
from django.db import connections


def use_compiled_timestamptz_loader() -> bool:
    """Register the loader on the adapters Django gives new connections. False (nothing
    changed) without psycopg's compiled implementation or with USE_TZ off."""
    try:
        import psycopg
        from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
        from psycopg.adapt import Loader
    except ImportError:  # psycopg2, or no PostgreSQL driver: nothing to speed up
        return False
    if psycopg.pq.__impl__ == "python" or not settings.USE_TZ:
        return False
    oid = psycopg.postgres.types["timestamptz"].oid
    compiled = psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT)

    class CompiledUtcLoader(BaseTzLoader):
        timezone = datetime.UTC

        def __init__(self, oid, context=None):
            # A loader is made per cursor: skip the pure-Python loader's own set-up (it reads
            # the connection's time zone and date style for a parser never used here).
            Loader.__init__(self, oid, context)
            # psycopg calls `loader.load`: the compiled loader's, bound to the same context.
            self.load = compiled(oid, context).load

    # Django builds every connection's adapters from this template (cached per USE_TZ and
    # time zone; the connection's time zone is UTC unless DATABASES sets TIME_ZONE).
    get_adapters_template(True, datetime.UTC).register_loader("timestamptz", CompiledUtcLoader)
    return True


@contextmanager
def planned_for_its_values(using: str = "default"):
    """
    Statements run inside are not prepared, so PostgreSQL plans each for the values it is
    given. A prepared statement is planned for its values only for its first five runs;
    after that PostgreSQL may keep a generic plan, costed for a typical value. For the
    export's pages of 1,000 interactions that plan reads and sorts all of a patient's
    entries up to the page, not the next 1,000 in index order: built for the 100 entries of
    a typical patient, it took 57-64 ms a page instead of 9-11 for a patient with 100,000,
    and the whole export 4.7 s instead of 0.9 (README, Performance). Planning anew costs
    ~0.9 ms, little beside such a page; the API's pages (at most 200 rows) keep the ordered
    plan either way and stay prepared. No-op off PostgreSQL or without preparing.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    saved = getattr(raw, "prepare_threshold", None)
    if saved is None:
        yield
        return
    raw.prepare_threshold = None  # psycopg: prepared statements off for this connection
    try:
        yield
    finally:
        raw.prepare_threshold = saved
