from django.core.management.base import BaseCommand, CommandError

from clarity.audit.anchor import write_anchor


class Command(BaseCommand):
    help = (
        "Write the audit chain's newest sealed link, HMAC-signed, to the external anchor store "
        "(AUDIT_ANCHOR_PATH). Run every few minutes from a scheduler."
    )

    def handle(self, *args, **options):
        record = write_anchor()
        if record is None:
            raise CommandError("No anchor store: set AUDIT_ANCHOR_PATH (or AUDIT_ANCHOR_STORE).")
        self.stdout.write(f"anchored chain_seq {record['chain_seq']} at {record['anchored_at']}")
