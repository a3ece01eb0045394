"""Hard-delete one patient and everything held about them, for a legal request.

    python manage.py purge_patient <patient-uuid> --actor <admin username> --confirm

The API never deletes PHI (DELETE only marks a patient inactive). This command is the
one documented exception: in a single transaction it lifts the append-only guard on the
interaction log and twin revisions, deletes the patient's interactions, revisions, twins,
care team, break-the-glass grants and idempotency records, restores the guard, and
writes a `delete` audit event (resource type `patient_purge`) naming the admin. Audit
events are never deleted: they hold identifiers only and must outlive the record.
On PostgreSQL run it as the migrator role (it needs ALTER TABLE on the guarded tables).
"""

import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Q

from clarity.audit.models import Action
from clarity.audit.services import AuditContext, audit_record
from clarity.dbtriggers import append_only_sql
from clarity.users.models import User, canonical_username
from interactions.models import IdempotencyRecord, InteractionLog
from patients.models import BreakGlassGrant, CareTeamMembership, Patient
from twins.models import DigitalTwin, TwinRevision

GUARDED = ("interactions_interactionlog", "twins_twinrevision")


def _lift_guards(cursor):
    if connection.vendor == "postgresql":
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while FK checks are pending
    for table in GUARDED:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        else:
            for statement in append_only_sql(table)["sqlite"][1]:
                cursor.execute(statement)


def _restore_guards(cursor):
    for table in GUARDED:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        else:
            for statement in append_only_sql(table)["sqlite"][0]:
                cursor.execute(statement)


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
        admin = User.objects.filter(username=canonical_username(actor), role="admin", is_active=True).first()
        if admin is None:
            raise CommandError("--actor must name an active admin-role user.")
        if not confirm:
            raise CommandError("Refusing to purge without --confirm (this permanently deletes PHI).")
        with transaction.atomic():
            patient = Patient.objects.select_for_update().filter(pk=patient_uuid).first()
            if patient is None:
                raise CommandError("No such patient.")
            twin_ids = list(DigitalTwin.objects.filter(patient=patient).values_list("pk", flat=True))
            with connection.cursor() as cursor:
                _lift_guards(cursor)
                counts = {
                    "interactions": InteractionLog.objects.filter(patient=patient)._raw_delete(connection.alias),
                    "twin revisions": TwinRevision.objects.filter(twin_id__in=twin_ids)._raw_delete(connection.alias),
                }
                _restore_guards(cursor)
            counts["idempotency records"] = _delete_idempotency_records(patient.pk)
            counts["twins"] = DigitalTwin.objects.filter(pk__in=twin_ids).delete()[0]
            counts["care-team memberships"] = CareTeamMembership.objects.filter(patient=patient).delete()[0]
            counts["break-glass grants"] = BreakGlassGrant.objects.filter(patient=patient).delete()[0]
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


def _delete_idempotency_records(patient_id) -> int:
    """Stored replay bodies hold interactions (PHI): delete those of this patient."""
    target = str(patient_id)
    if connection.vendor == "postgresql":
        return IdempotencyRecord.objects.filter(
            Q(response_body__contains={"patient": target}) | Q(response_body__contains=[{"patient": target}])
        ).delete()[0]
    # SQLite has no JSON containment lookup: match single and batch bodies in Python.
    doomed = []
    for pk, body in IdempotencyRecord.objects.values_list("pk", "response_body").iterator():
        items = body if isinstance(body, list) else [body]
        if any(isinstance(item, dict) and item.get("patient") == target for item in items):
            doomed.append(pk)
    return IdempotencyRecord.objects.filter(pk__in=doomed).delete()[0]
