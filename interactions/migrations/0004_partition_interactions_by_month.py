"""PostgreSQL: interactions_interactionlog becomes a table partitioned by month on occurred_at.

Rows, indexes, foreign keys, checks and triggers (append-only, twin of the same patient,
payload object) are carried over (clarity/partitions.py). The primary key becomes
(id, occurred_at). There is NO default partition — it would stop PostgreSQL walking the
partitions in order (ordered Append), which the newest-first keyset page relies on to
stop after the newest months. Instead every occurred_at has a partition: one historic
partition FROM (MINVALUE) to January of the migration's year, months from there to the
months kept ahead (`audit_partitions`, run by `migrate` and a daily schedule), and the
API refuses an occurred_at beyond INTERACTION_MAX_FUTURE_DAYS.

The unique (actor, idempotency_key) index cannot stay unique on a partitioned table (a
unique index must include the partition key): it becomes a plain index on both
databases; exactly-once stays with IdempotencyRecord's unique (actor, key). Reversible:
going back rebuilds one plain table with the rows, then the unique index.
"""

import datetime

from django.db import migrations, models

from clarity.partitions import convert_to_monthly_partitions, convert_to_plain_table

TABLE = "interactions_interactionlog"


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        convert_to_monthly_partitions(
            cursor,
            TABLE,
            "occurred_at",
            primary_key=("id", "occurred_at"),
            historic_before=datetime.date(datetime.datetime.now(datetime.UTC).year, 1, 1),
        )


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        convert_to_plain_table(cursor, TABLE)


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("interactions", "0003_allow_empty_payload")]

    operations = [
        migrations.RemoveConstraint(model_name="interactionlog", name="interactions_interactionlog_idempotency_unique"),
        migrations.AddIndex(
            model_name="interactionlog",
            index=models.Index(
                condition=models.Q(("idempotency_key__isnull", False)),
                fields=["actor", "idempotency_key"],
                name="interactions_idempotency_key",
            ),
        ),
        migrations.RunPython(partition, unpartition),
    ]
