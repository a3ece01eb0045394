"""Interaction log test data (patients and twins come from their apps' tests/factories.py)."""

import datetime

from django.db import connection

from ..models import InteractionLog

BASE_TIME = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def make_interactions(
    patient, count: int, *, kind="observation", twin=None, actor=None, start=BASE_TIME, step_seconds=60
):
    """`count` rows, one every `step_seconds` from `start`, in one bulk insert."""
    rows = [
        InteractionLog(
            patient=patient,
            twin=twin,
            actor=actor,
            kind=kind,
            payload={"n": index},
            occurred_at=start + datetime.timedelta(seconds=index * step_seconds),
        )
        for index in range(count)
    ]
    return InteractionLog.objects.bulk_create(rows)


def insert_interactions_fast(patient, count: int, *, start=BASE_TIME) -> None:
    """`count` observation rows in ONE INSERT … SELECT: no Python object per row."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # In slices: 200,000 rows in one statement can pass the 15 s statement timeout
            # on a loaded machine (row triggers and foreign-key checks run per row).
            for low in range(1, count + 1, 50_000):
                cursor.execute(
                    "INSERT INTO interactions_interactionlog (patient_id, kind, payload, occurred_at) "
                    "SELECT %s, 'observation', jsonb_build_object('n', n, 'note', 'steady'), "
                    "%s + n * interval '1 second' FROM generate_series(%s::int, %s::int) AS n",
                    [patient.pk, start, low, min(low + 49_999, count)],
                )
        else:
            # SQLite keeps UUIDs as 32 hex digits and datetimes as ISO text.
            cursor.execute(
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %s) "
                "INSERT INTO interactions_interactionlog (patient_id, kind, payload, occurred_at) "
                "SELECT %s, 'observation', json_object('n', n, 'note', 'steady'), "
                "strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '+' || n || ' seconds') FROM seq",
                [count, patient.pk.hex, start.strftime("%Y-%m-%d %H:%M:%S")],
            )


def item(kind="message", payload=None, occurred_at="2026-02-01T09:00:00Z", **extra) -> dict:
    if payload is None:
        payload = (
            {"text": "Slept badly again."}
            if kind == "message"
            else {"instrument": "PHQ-9", "score": 12}
            if kind == "assessment"
            else {"value": 1}
        )
    return {"kind": kind, "payload": payload, "occurred_at": occurred_at, **extra}
