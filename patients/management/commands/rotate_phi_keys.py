"""Re-encrypt every encrypted PHI value under the newest key of PHI_ENCRYPTION_KEYS.

    python manage.py rotate_phi_keys [--batch-size 500]

Works in batches by primary key, each batch its own short transaction with the rows
locked, so it can run beside live traffic. It is resumable: a value already under the
newest key is skipped, so an interrupted run just starts again. Values written before
encryption was enabled (plaintext) are encrypted too. Afterwards an old key can be
removed from the keyring. Record versions are not bumped: the content is unchanged.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.db.models.functions import Cast

from clarity.crypto import EncryptedTextField, key_id_of, keyring


def encrypted_fields(model):
    return [field for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]


class Command(BaseCommand):
    help = "Re-encrypt all encrypted PHI under the newest key (batched, resumable)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        newest, _ = keyring()
        total = 0
        for model in apps.get_models():
            fields = encrypted_fields(model)
            if not fields:
                continue
            columns = [field.attname for field in fields]
            last_pk = None
            rewritten = 0
            while True:
                with transaction.atomic():
                    queryset = model._base_manager.order_by("pk")
                    if last_pk is not None:
                        queryset = queryset.filter(pk__gt=last_pk)
                    # Read the stored form (a plain-text cast skips decryption) to see each value's key id.
                    raw = {f"_raw_{name}": Cast(name, output_field=models.TextField()) for name in columns}
                    raw_rows = list(queryset.annotate(**raw).values_list("pk", *raw)[:batch_size])
                    if not raw_rows:
                        break
                    last_pk = raw_rows[-1][0]
                    stale = [
                        row[0] for row in raw_rows if any(value and key_id_of(value) != newest for value in row[1:])
                    ]
                    if stale:
                        objects = list(model._base_manager.select_for_update().filter(pk__in=stale))
                        model._base_manager.bulk_update(objects, columns)
                        rewritten += len(objects)
                self.stdout.write(f"{model._meta.label}: {rewritten} re-encrypted so far", ending="\r")
            self.stdout.write(f"{model._meta.label}: {rewritten} value set(s) re-encrypted under key {newest}")
            total += rewritten
        self.stdout.write(self.style.SUCCESS(f"done: {total} row(s) rewritten"))
