"""Store every username in its canonical form (NFKC, case-folded, NFKC), the one form that
login, lockout and uniqueness compare exactly from now on (see `canonical_username`)."""

import unicodedata

from django.db import migrations


def _canonical(value):
    # Frozen copy of clarity.users.models.canonical_username as of this migration.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold()).strip()


def canonicalise_usernames(apps, schema_editor):
    User = apps.get_model("users", "User")
    rows = list(User.objects.values_list("pk", "username"))
    owners = {}
    for pk, username in rows:
        owners.setdefault(_canonical(username), []).append(pk)
    clashes = {key: pks for key, pks in owners.items() if len(pks) > 1}
    if clashes:
        # Two accounts that are one account under the canonical form: an operator must rename
        # or merge them; guessing which one keeps the name would hand over an identity.
        ids = "; ".join(", ".join(str(pk) for pk in pks) for pks in clashes.values())
        raise RuntimeError(
            f"usernames that become equal in canonical form (rename one of each group, by user id): {ids}"
        )
    for pk, username in rows:
        canonical = _canonical(username)
        if canonical != username:
            User.objects.filter(pk=pk).update(username=canonical)


class Migration(migrations.Migration):
    dependencies = [("users", "0001_initial")]

    operations = [migrations.RunPython(canonicalise_usernames, migrations.RunPython.noop)]
