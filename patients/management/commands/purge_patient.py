"""Hard-delete one patient and everything held about them, for a legal request.

    python manage.py purge_patient <patient-uuid> --actor <admin username> --confirm

The API never deletes PHI (DELETE only marks a patient inactive). This command is the
one documented exception: in a single transaction it deletes every patient-owned record
each app declares (patients/registry.py: interactions, twin revisions, twins, care team,
break-the-glass grants, idempotency records, ...), lifting the append-only guard of the
tables that have one for the purge and restoring it after, then the patient, and writes a
`delete` audit event (resource type `patient_purge`) naming the admin. Audit events are
never deleted: they hold identifiers only and must outlive the record.
On PostgreSQL run it as the migrator role (it needs ALTER TABLE on the guarded tables).
"""

import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from clarity.audit.models import Action
from clarity.audit.services import AuditContext, audit_record
from clarity.users.selectors import active_admin_named
from patients.models import Patient
from patients.registry import owned_models, rows_of


def _append_only_guards(cursor, tables) -> list:
    """
    The append-only guards (clarity.dbtriggers.append_only) on `tables`, as the statements
    that restore them: PostgreSQL's trigger is disabled and enabled again; SQLite's
    triggers are dropped and re-created from their own stored SQL.
    """
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND c.relname = ANY(%s)"
            " AND t.tgname = c.relname || '_append_only'",
            [list(tables)],
        )
        return [(table, name, None) for table, name in cursor.fetchall()]
    cursor.execute("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'")
    return [
        (table, name, sql)
        for table, name, sql in cursor.fetchall()
        if table in tables and name in (f"{table}_no_update", f"{table}_no_delete")
    ]


def _lift_guards(cursor, guards):
    if connection.vendor == "postgresql":
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while FK checks are pending
    for table, name, _sql in guards:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        else:
            cursor.execute(f"DROP TRIGGER {name}")


def _restore_guards(cursor, guards):
    for table, name, sql in guards:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
        else:
            cursor.execute(sql)


class Command(BaseCommand):
    help = "Hard-delete a patient and all their records (legal requests only). Leaves an audit event."

    def add_arguments(self, parser):
        parser.add_argument("patient_id")
        parser.add_argument("--actor", required=True, help="Username of the admin who authorised the purge.")
        parser.add_argument("--confirm", action="store_true", help="Required: this cannot be undone.")

    def handle(self, *args, patient_id, actor, confirm, **options):
        try:
            patient_uuid = uuid.UUID(patient_id)
        except ValueError:
            raise CommandError("patient_id must be a UUID.") from None
        admin = active_admin_named(actor)
        if admin is None:
            raise CommandError("--actor must name an active admin-role user.")
        if not confirm:
            raise CommandError("Refusing to purge without --confirm (this permanently deletes PHI).")
        with transaction.atomic():
            patient = Patient.objects.select_for_update().filter(pk=patient_uuid).first()
            if patient is None:
                raise CommandError("No such patient.")
            models = owned_models()
            counts = {}
            with connection.cursor() as cursor:
                guards = _append_only_guards(cursor, {model._meta.db_table for model in models})
                _lift_guards(cursor, guards)
                # Children first (owned_models' order): a twin's revisions are found through the twin.
                for model in models:
                    _total, by_model = rows_of(model, patient.pk).delete()
                    counts[str(model._meta.verbose_name_plural)] = by_model.get(model._meta.label, 0)
                _restore_guards(cursor, guards)
            Patient.objects.filter(pk=patient.pk).delete()
            audit_record(
                AuditContext(actor=admin, user_agent="manage.py purge_patient"),
                action=Action.DELETE,
                resource_type="patient_purge",
                resource_id=patient_uuid,
                patient_id=patient_uuid,
            )
        summary = ", ".join(f"{count} {name}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"purged patient {patient_uuid}: {summary}"))
