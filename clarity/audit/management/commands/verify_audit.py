from django.core.management.base import BaseCommand, CommandError

from clarity.audit.chain import seal_pending, verify_chain


class Command(BaseCommand):
    help = "Seal pending audit events, then verify the whole HMAC chain. Exits non-zero at the first bad event."

    def add_arguments(self, parser):
        parser.add_argument("--no-seal", action="store_true", help="Only verify; do not seal pending events first.")
        parser.add_argument(
            "--archive", metavar="DIR", default=None,
            help="Also verify the archived months' files in DIR: the whole chain from its first event.",
        )  # fmt: skip

    def handle(self, *args, no_seal=False, archive=None, **options):
        if not no_seal:
            sealed = seal_pending(max_rounds=10**9)
            if sealed:
                self.stdout.write(f"sealed {sealed} pending event(s)")
        if archive:
            from pathlib import Path

            from clarity.audit.archive import verify_with_archives

            result = verify_with_archives(Path(archive))
        else:
            result = verify_chain()
        if not result.ok:
            where = f" at event {result.bad_event_id}" if result.bad_event_id is not None else ""
            raise CommandError(f"audit chain broken{where}: {result.reason} ({result.checked} verified before it)")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {result.checked} event(s) verified"))
