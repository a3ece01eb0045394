from django.db import migrations

from clarity.dbtriggers import append_only


class Migration(migrations.Migration):
    """Audit events are append-only; the only UPDATE allowed is the one-time seal."""

    dependencies = [("audit", "0001_initial")]

    operations = [
        append_only(
            "audit_auditevent",
            sealable_columns=("chain_seq", "prev_hash", "hash"),
            other_columns=(
                "id",
                "occurred_at",
                "actor_id",
                "actor_username",
                "actor_role",
                "action",
                "resource_type",
                "resource_id",
                "patient_id",
                "ip",
                "user_agent",
                "request_id",
                "outcome",
                "break_glass",
            ),
        ),
    ]
