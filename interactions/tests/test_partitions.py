"""The interaction log partitioned by month on PostgreSQL (migration 0004, clarity/partitions.py),
and the occurred_at window the API accepts, which every partition layout must cover."""

import datetime

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clarity.partitions import add_months, month_start, partition_name
from patients.tests.factories import make_patient

from ..models import InteractionLog
from ..selectors import interactions_of
from .helpers import make_interactions

TABLE = "interactions_interactionlog"


def url(patient):
    return f"/api/v1/patients/{patient.pk}/interactions/"


def stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def partition_of(row_id):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [row_id])  # noqa: S608
        return cursor.fetchone()[0]


# --- The accepted window (both databases) ----------------------------------------------------


@pytest.mark.django_db
def test_the_api_accepts_occurred_at_at_both_ends_of_the_window_and_stores_it(admin_user, client_for):
    patient = make_patient()
    latest = timezone.now() + datetime.timedelta(days=settings.INTERACTION_MAX_FUTURE_DAYS, minutes=-1)
    body = [
        {"kind": "note", "payload": {"text": "oldest"}, "occurred_at": "1900-01-01T00:00:00Z"},
        {"kind": "note", "payload": {"text": "newest"}, "occurred_at": stamp(latest)},
    ]

    response = client_for(admin_user).post(url(patient), body, format="json")

    assert response.status_code == 201, response.content
    assert InteractionLog.objects.filter(patient=patient).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("1899-12-31T23:59:59Z", "Must not be before 1900-01-01T00:00:00Z."),
        ("0001-01-01T00:00:00Z", "Must not be before 1900-01-01T00:00:00Z."),
        ("future", "day(s) in the future."),
        ("9999-12-31T23:59:59Z", "day(s) in the future."),
    ],
)
def test_an_occurred_at_outside_the_window_is_a_400_that_changes_nothing(admin_user, client_for, when, message):
    patient = make_patient()
    if when == "future":
        when = stamp(timezone.now() + datetime.timedelta(days=settings.INTERACTION_MAX_FUTURE_DAYS, minutes=5))
    body = [
        {"kind": "note", "payload": {"text": "fine"}, "occurred_at": "2026-01-01T00:00:00Z"},
        {"kind": "note", "payload": {"text": "out"}, "occurred_at": when},
    ]

    response = client_for(admin_user).post(url(patient), body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert message in str(response.json())
    assert not InteractionLog.objects.filter(patient=patient).exists()


# --- The layout (PostgreSQL) ------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_log_is_range_partitioned_by_month_with_a_historic_partition_and_no_default():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s", [TABLE])
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT pg_get_partkeydef(%s::regclass)", [TABLE])
        assert cursor.fetchone()[0] == "RANGE (occurred_at)"
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        bounds = dict(cursor.fetchall())
        cursor.execute(
            "SELECT a.attname FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey)"
            " WHERE x.indrelid = %s::regclass AND x.indisprimary",
            [TABLE],
        )
        primary_key = {row[0] for row in cursor.fetchall()}
    this_month = month_start(datetime.datetime.now(datetime.UTC))
    assert {
        partition_name(TABLE, add_months(this_month, n)) for n in range(settings.AUDIT_PARTITIONS_AHEAD + 1)
    } <= set(bounds)
    assert bounds[f"{TABLE}_historic"].startswith("FOR VALUES FROM (MINVALUE) TO (")
    assert "DEFAULT" not in bounds.values()  # it would rule out the ordered Append the page needs
    assert primary_key == {"id", "occurred_at"}


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_rows_land_in_their_month_and_old_ones_in_the_historic_partition():
    patient = make_patient()
    now = timezone.now()
    recent = make_interactions(patient, 1, start=now)[0]
    last_month = make_interactions(patient, 1, start=now - datetime.timedelta(days=35))[0]
    old = make_interactions(patient, 1, start=datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC))[0]
    ancient = make_interactions(patient, 1, start=datetime.datetime(1066, 10, 14, tzinfo=datetime.UTC))[0]

    assert partition_of(recent.pk) == partition_name(TABLE, month_start(now))
    assert partition_of(last_month.pk) == partition_name(TABLE, month_start(now - datetime.timedelta(days=35)))
    assert partition_of(old.pk) == partition_of(ancient.pk) == f"{TABLE}_historic"


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_latest_accepted_occurred_at_has_a_partition_even_on_the_last_day_of_the_furthest_month():
    # The months kept ahead must cover "now + INTERACTION_MAX_FUTURE_DAYS" from any day the
    # schedule last ran: the furthest month kept ahead starts well after that instant.
    now = timezone.now()
    furthest = add_months(month_start(now), settings.AUDIT_PARTITIONS_AHEAD)
    latest = now + datetime.timedelta(days=settings.INTERACTION_MAX_FUTURE_DAYS)
    assert month_start(latest) <= furthest
    row = make_interactions(make_patient(), 1, start=latest)[0]
    assert partition_of(row.pk) == partition_name(TABLE, month_start(latest))


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_partition_is_append_only_too():
    row = make_interactions(make_patient(), 1, start=timezone.now())[0]
    name = partition_of(row.pk)
    with connection.cursor() as cursor:
        with pytest.raises(IntegrityError, match=f"{TABLE} is append-only"), transaction.atomic():
            cursor.execute(f"UPDATE {name} SET kind = 'alert' WHERE id = %s", [row.pk])  # noqa: S608
        with pytest.raises(IntegrityError, match=f"{TABLE} is append-only"), transaction.atomic():
            cursor.execute(f"DELETE FROM {name} WHERE id = %s", [row.pk])  # noqa: S608


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_page_walks_the_partitions_newest_first_and_never_executes_the_older_ones():
    patient = make_patient()
    now = timezone.now()
    # A patient with a long history: a page is a small part of it, as in production (for a
    # patient with a few dozen rows a scan and sort is rightly cheaper than walking an index).
    # This month's rows span 100 minutes and must all fall in this month's partition, also in the
    # first two hours of a month: they then start at the month's first instant and end at most
    # 100 minutes ahead of now, well within the accepted future (CI once ran this test at about 00:20 on the 1st).
    this_month_start = max(
        now - datetime.timedelta(hours=2), datetime.datetime(now.year, now.month, 1, tzinfo=datetime.UTC)
    )
    make_interactions(patient, 3000, start=this_month_start, step_seconds=2)
    for months_back in (2, 3):
        make_interactions(patient, 1500, start=now - datetime.timedelta(days=31 * months_back))
    make_interactions(patient, 1500, start=datetime.datetime(1990, 1, 1, tzinfo=datetime.UTC))
    make_interactions(make_patient(), 3000, start=now - datetime.timedelta(days=31 * 2))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    queryset = interactions_of(patient.pk).order_by("-occurred_at", "-id")[:51]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Merge Append" not in plan and "Sort" not in plan and "Seq Scan" not in plan, plan
    lines = plan.splitlines()
    assert any("Append" in line for line in lines), plan
    older = [
        partition_name(TABLE, month_start(now - datetime.timedelta(days=31 * months_back))) for months_back in (2, 3)
    ] + [f"{TABLE}_historic"]
    for name in older:
        scans = [line for line in lines if f" on {name} " in line]
        assert scans and all("never executed" in line for line in scans), plan
    this_month = [line for line in lines if f" on {partition_name(TABLE, month_start(now))} " in line]
    assert this_month and "rows=51" in this_month[0], plan


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_an_exports_upper_bound_reads_the_top_of_each_partition_not_other_patients_rows():
    from django.test.utils import CaptureQueriesContext

    from ..selectors import export_upper_bound
    from .helpers import insert_interactions_fast

    month = timezone.now() - datetime.timedelta(days=35)
    exported = make_patient()
    make_interactions(exported, 50, start=month)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")  # statistics from before another patient's rows came
    insert_interactions_fast(make_patient(), 20_000, start=month)
    newest = InteractionLog.objects.order_by("-id").values_list("id", flat=True).first()

    with CaptureQueriesContext(connection) as queries:
        assert export_upper_bound() == newest
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + queries.captured_queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The exported patient's own maximum walked the month's key back through the 20,000 newer rows.
    assert "Rows Removed by Filter" not in plan, plan
