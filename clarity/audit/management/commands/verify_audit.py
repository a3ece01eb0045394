from django.core.management.base import BaseCommand, CommandError

from clarity.audit.chain import seal_pending, verify_chain


class Command(BaseCommand):
    help = "Seal pending audit events, then verify the whole HMAC chain. Exits non-zero at the first bad event."

    def add_arguments(self, parser):
        parser.add_argument("--no-seal", action="store_true", help="Only verify; do not seal pending events first.")

    def handle(self, *args, no_seal=False, **options):
        if not no_seal:
            sealed = seal_pending(max_rounds=10**9)
            if sealed:
                self.stdout.write(f"sealed {sealed} pending event(s)")
        result = verify_chain()
        if not result.ok:
            raise CommandError(f"audit chain broken at event {result.bad_event_id}: {result.reason} ({result.checked} verified before it)")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {result.checked} event(s) verified"))
