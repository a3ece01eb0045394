"""clarity/postgres/__init__.py: timestamps from PostgreSQL are parsed by psycopg's compiled loader,
into the same values Django's own loader gives."""

import datetime
import uuid

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

pytestmark = pytest.mark.postgres_only

CASES = [
    "2026-11-30 16:00:00.123456+00",
    "1900-01-01 00:00:00+00",
    "2026-03-29 01:30:00+02",  # an offset other than the session's
    "9999-12-31 23:59:59.999999+00",
]


@pytest.mark.django_db
def test_timestamps_come_back_as_djangos_loader_gives_them_but_from_the_compiled_parser():
    with connection.cursor() as cursor:
        loader = cursor.connection.adapters.get_loader(1184, 0)  # timestamptz, text
        # Django's class (its cursors read `timezone` from it), psycopg's compiled `load`
        assert issubclass(loader, BaseTzLoader) and loader.timezone is datetime.UTC
        parser = loader(1184, cursor.cursor).load.__self__
        assert type(parser).__module__.startswith("psycopg_binary"), type(parser)

        class DjangosOwn(BaseTzLoader):
            timezone = datetime.UTC

        djangos = DjangosOwn(1184, cursor.cursor)
        for text in CASES:
            cursor.execute("SELECT %s::timestamptz, (%s::timestamptz)::text", [text, text])
            value, session_text = cursor.fetchone()
            expected = djangos.load(session_text.encode())
            assert value == expected and value.tzinfo is datetime.UTC, text


def _prepared_statements_reading_the_log(cursor) -> int:
    cursor.execute(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s AND statement LIKE %s",
        ['%FROM "interactions_interactionlog"%', "%LIMIT 1000%"],
    )
    return cursor.fetchone()[0]


@pytest.mark.django_db
def test_export_pages_are_planned_for_their_values_while_repeated_statements_are_prepared():
    # A generic plan for an export page sorts all of a large patient's log up to the page
    # (57-64 ms a page against 9-11 at 100,000 entries): the page statement is never prepared.
    from interactions.models import InteractionLog
    from interactions.selectors import as_log_rows, interaction_page_for_export

    after = (datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), 10**6)
    with connection.cursor() as cursor:
        # Given the export's page statement run more often than the prepare threshold
        for _ in range(12):
            interaction_page_for_export(uuid.uuid4(), up_to_id=10**6, after=after, rows=1000)
        # Then the connection holds no prepared copy of it
        assert _prepared_statements_reading_the_log(cursor) == 0
        # While the same kind of statement outside the export is prepared (so the check can see one)
        for _ in range(12):
            list(as_log_rows(InteractionLog.objects.filter(patient_id=uuid.uuid4()).order_by("-occurred_at"))[:1000])
        assert _prepared_statements_reading_the_log(cursor) == 1


def test_the_backend_is_ours_and_django_does_not_check_pooled_connections_twice():
    from django.db import connections

    for alias in connections:
        if connections[alias].vendor == "postgresql":
            assert type(connections[alias]).__module__ == "clarity.postgres.base"
            assert connections[alias].settings_dict["CONN_HEALTH_CHECKS"] is False


@pytest.mark.django_db
def test_a_pooled_connection_is_usable_until_the_server_ends_it():
    import time

    import psycopg

    from clarity.postgres.base import pooled_connection_usable

    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as idle, psycopg.connect(**params, autocommit=True) as admin:
        pid = idle.info.backend_pid
        idle.execute("SELECT 'last statement'")
        # At rest with nothing to read: usable, and found so without a round trip (an empty
        # query would replace the last statement pg_stat_activity shows with "")
        assert pooled_connection_usable(idle)
        seen = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]
        assert seen == "SELECT 'last statement'"
        # Ended by the server (as an administrator, a failover or idle_session_timeout does)
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while pooled_connection_usable(idle):
            assert time.monotonic() < deadline, "the ended connection still looked usable"
            time.sleep(0.01)
        assert idle.broken or idle.closed
