"""The actor foreign key loses its single-column index: audit_auditevent_actor_idx
(actor, -occurred_at) leads with the same column, and each index of the audit table is
written twice per event (at insert and when the event is sealed).

Dropped by name rather than by AlterField: on SQLite AlterField rebuilds the table, which
would drop the append-only triggers with it; on PostgreSQL, dropping the partitioned index
drops each partition's.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEX = "audit_auditevent_actor_id_270bb4b7"


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_audit_archive"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="audit_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON audit_auditevent (actor_id)",
                ),
            ],
        ),
    ]
