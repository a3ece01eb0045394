"""`python -m clarity.tests.reliability.world [PATIENTS]`: users, tokens and patients for a server under test.

Run in a subprocess with the server's environment (its DATABASE_URL and keys), it writes
one user of each role (plus a second clinician), PATIENTS patients under the clinician's
care (the first linked to the patient user) each with a twin, and prints JSON:
{"tokens": {role: raw token}, "users": {role: id}, "patients": [ids], "twins": [ids]}.
Plain ORM, no audit events: this is fixture data, not API activity.
"""

import datetime
import json
import os
import sys


def build(patients: int) -> dict:
    from django.utils import timezone

    from clarity.users.models import ApiToken, User, hash_token
    from patients.models import CareTeamMembership, Patient
    from twins.models import DigitalTwin, TwinRevision

    now = timezone.now()
    tag = os.urandom(3).hex()
    users, tokens = {}, {}
    for role in ("admin", "clinician", "other_clinician", "patient", "researcher"):
        user = User.objects.create(
            username=f"rel-{role}-{tag}",
            email=f"rel-{role}-{tag}@example.org",
            role=role.removeprefix("other_"),
            is_staff=role == "admin",
        )
        raw = ApiToken.generate_raw()
        ApiToken.objects.create(user=user, key_hash=hash_token(raw), expires_at=now + datetime.timedelta(days=1))
        users[role], tokens[role] = user, raw

    patient_ids, twin_ids = [], []
    for n in range(patients):
        patient = Patient.objects.create(
            mrn=f"REL{tag}-{n:05d}",
            given_name=f"Rel{n}",
            family_name=f"Fixture{tag}",
            date_of_birth=datetime.date(1970, 1, 1) + datetime.timedelta(days=37 * n),
            sex="unknown",
            user=users["patient"] if n == 0 else None,
        )
        CareTeamMembership.objects.create(patient=patient, clinician=users["clinician"], role="primary")
        twin = DigitalTwin.objects.create(
            patient=patient, name=f"twin {n}", twin_type="psychiatric", created_by=users["clinician"]
        )
        TwinRevision.objects.create(
            twin=twin, version=1, configuration=twin.configuration, changed_by=users["clinician"]
        )
        patient_ids.append(str(patient.pk))
        twin_ids.append(str(twin.pk))
    return {
        "tokens": tokens,
        "users": {role: str(user.pk) for role, user in users.items()},
        "patients": patient_ids,
        "twins": twin_ids,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarity.settings")
    import django

    django.setup()
    sys.stdout.write(json.dumps(build(int(sys.argv[1]) if len(sys.argv) > 1 else 3)) + "\n")
