import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clarity.audit.archive import ArchiveError, archive_before


def _month(value: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError("--before must be a month, YYYY-MM.") from None


class Command(BaseCommand):
    help = (
        "Archive every audit month before YYYY-MM (PostgreSQL): detach its partition, write it to "
        "<dir>/<partition>.ndjson.gz with an HMAC, verify the file, then drop the partition. "
        "Months inside AUDIT_RETENTION_MONTHS are never archived."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="First month to keep, YYYY-MM.")
        parser.add_argument("--dir", default=None, help="Archive directory (default AUDIT_ARCHIVE_DIR).")

    def handle(self, *args, before, dir=None, **options):  # noqa: A002 - the option's name
        directory = Path(dir or settings.AUDIT_ARCHIVE_DIR)
        try:
            records = archive_before(_month(before), directory)
        except ArchiveError as exc:
            raise CommandError(str(exc)) from None
        for record in records:
            self.stdout.write(
                f"archived {record.partition}: {record.events} event(s) -> {directory / record.file_name}"
            )
        if not records:
            self.stdout.write(f"nothing to archive before {before}")
