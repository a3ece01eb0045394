from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from clarity.audit.partitions import audit_partitions, default_partition_rows, ensure_ahead, interaction_partitions


class Command(BaseCommand):
    help = (
        "Create the monthly partitions of the audit trail and the interaction log for this month "
        "and the next N (PostgreSQL). "
        "Run daily from a scheduler; `migrate` also runs it. Rows that reached the default "
        "partition are moved into their month."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ahead", type=int, default=None, help="Months ahead (default AUDIT_PARTITIONS_AHEAD, 3).")

    def handle(self, *args, ahead=None, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("audit_partitions: SQLite keeps one audit table; nothing to do")
            return
        if ahead is not None and not 0 <= ahead <= 120:
            raise CommandError("--ahead must be between 0 and 120 months.")
        created = ensure_ahead(ahead)
        for name in created:
            self.stdout.write(f"created {name}")
        names = [p.name for p in audit_partitions()]
        self.stdout.write(f"{len(names)} partition(s): {', '.join(names)}")
        names = [p.name for p in interaction_partitions()]
        if names:
            self.stdout.write(f"interaction log: {len(names)} partition(s), {names[0]} to {names[-1]}")
        stray = default_partition_rows()
        if stray:
            raise CommandError(
                f"{stray} audit event(s) are in the default partition: run with --ahead covering their month."
            )
