"""clarity/postgres.py: timestamps from PostgreSQL are parsed by psycopg's compiled loader,
into the same values Django's own loader gives."""

import datetime

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
