"""`manage.py build_research_dataset <id> --actor <admin> [--resume]`: build a dataset outside a request.

For cohorts too large to build within one HTTP request, and to resume a build that was
interrupted (the API's `POST …/build/ {"resume": true}` does the same). Audited as `export`.
"""

import uuid

from django.core.management.base import BaseCommand, CommandError

from clarity.audit.services import AuditContext
from clarity.errors import Conflict
from clarity.research.models import ResearchDataset
from clarity.research.services import dataset_build
from clarity.users.selectors import active_admin_named


class Command(BaseCommand):
    help = "Build (or resume building) a de-identified research dataset. Leaves an export audit event."

    def add_arguments(self, parser):
        parser.add_argument("dataset_id")
        parser.add_argument("--actor", required=True, help="Username of the admin running the build.")
        parser.add_argument("--resume", action="store_true", help="Continue an interrupted build.")

    def handle(self, *args, dataset_id, actor, resume, **options):
        try:
            dataset_uuid = uuid.UUID(dataset_id)
        except ValueError:
            raise CommandError("dataset_id must be a UUID.") from None
        admin = active_admin_named(actor)
        if admin is None:
            raise CommandError("--actor must name an active admin-role user.")
        if not ResearchDataset.objects.filter(pk=dataset_uuid).exists():
            raise CommandError("No such dataset.")
        ctx = AuditContext(actor=admin, user_agent="manage.py build_research_dataset")
        try:
            dataset = dataset_build(dataset_id=dataset_uuid, actor=admin, ctx=ctx, resume=resume)
        except Conflict as exc:
            raise CommandError(exc.message) from None
        counts = dataset.manifest["counts"]
        self.stdout.write(
            self.style.SUCCESS(
                f"dataset {dataset.pk} build {dataset.ready_build}: {counts['patients']} patients, {counts['rows']} rows, "
                f"{counts['suppressed_patients']} patients / {counts['suppressed_rows']} rows suppressed"
            )
        )
