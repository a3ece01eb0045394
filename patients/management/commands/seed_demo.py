"""
`manage.py seed_demo [--patients N] [--if-empty] [--reset-passwords]`: demo accounts and synthetic patients.

Creates four sign-in accounts (demo-admin, demo-clinician, demo-patient,
demo-researcher) with random passwords printed once, when each account is created,
and N synthetic patients (MRN DEMO-000001 ...) with care teams, twins, first
revisions and interaction history. `--reset-passwords` gives the demo accounts new
passwords (printed once) when the first run's output is gone. Safe to re-run: existing accounts are left alone
and existing MRNs are skipped, so an interrupted run can simply be repeated. Every
name and number is made up.

Rows are written with bulk_create in chunks, not through the services, so that 10,000
patients take well under a minute; the data is built to pass each model's full_clean() (tested).
"""

import datetime
import random
import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from clarity.users.models import Role, User
from interactions.models import InteractionLog
from patients.models import CareTeamMembership, Patient
from twins.models import DigitalTwin, TwinRevision

ACCOUNTS = (
    ("demo-admin", Role.ADMIN),
    ("demo-clinician", Role.CLINICIAN),
    ("demo-patient", Role.PATIENT),
    ("demo-researcher", Role.RESEARCHER),
)
# Extra clinicians to fill consulting seats; nobody signs in as them (unusable passwords).
CONSULTANTS = ("demo-consultant-1", "demo-consultant-2")
MRN_PREFIX = "DEMO-"
CHUNK = 1000
INTERACTIONS_PER_PATIENT = 20
HISTORY_DAYS = 90

GIVEN_NAMES = (
    "Ada", "Alan", "Amara", "Ben", "Chen", "Dara", "Elif", "Farah", "Grace", "Hugo", "Ines", "Jon",
    "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
)  # fmt: skip
FAMILY_NAMES = (
    "Adams", "Baker", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan",
    "Larsen", "Moreau", "Novak", "Okafor", "Patel", "Quint", "Rossi", "Silva", "Tanaka", "Usman", "Weber",
)  # fmt: skip
SEXES = ("female", "male", "intersex", "unknown")
MESSAGES = (
    "Slept badly again last night.",
    "Feeling a bit better this week.",
    "The new routine is helping.",
    "Anxious before work most mornings.",
    "Missed my evening dose yesterday.",
    "Had a good weekend with family.",
)
NOTES = (
    "Reviewed sleep diary; continue current plan.",
    "Discussed coping strategies for morning anxiety.",
    "Medication adherence reviewed.",
)
# Valid per the configuration schema in docs/domain.md (checked by the tests with full_clean()).
CONFIGURATIONS = {
    "psychiatric": {
        "simulation_granularity_hours": 24,
        "prediction_models_enabled": ["risk_relapse", "symptom_forecast"],
        "data_sources_enabled": ["symptoms", "sessions", "medication"],
        "alert_thresholds": {"phq9_change": 5, "gad7_change": 4, "suicide_risk": 0.6},
    },
    "biometric": {
        "simulation_granularity_hours": 1,
        "prediction_models_enabled": ["sleep_quality"],
        "data_sources_enabled": ["actigraphy", "sleep", "heart_rate"],
        "alert_thresholds": {"sleep_hours_min": 4.5},
    },
}
# INTERACTIONS_PER_PATIENT entries: the mix of each patient's history.
KINDS = ("message",) * 5 + ("assessment",) * 6 + ("observation",) * 6 + ("prediction",) * 2 + ("note",)


def mrn(number: int) -> str:
    return f"{MRN_PREFIX}{number:06d}"


class Command(BaseCommand):
    help = "Create demo accounts (passwords printed once) and N synthetic patients with twins and interactions."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=200, help="number of demo patients (default 200)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any patient exists")
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="give the demo accounts new random passwords, print them, and seed nothing else",
        )

    def handle(self, *args, patients, if_empty, reset_passwords=False, **options):
        if patients < 0:
            raise CommandError("--patients must be zero or more.")
        if reset_passwords:
            self.reset_passwords()
            return
        if if_empty and Patient.objects.exists():
            self.stdout.write("Patients already exist; nothing seeded (--if-empty).")
            return

        accounts = self.ensure_accounts()
        consultants = [self.ensure_user(username, Role.CLINICIAN, password=None)[0] for username in CONSULTANTS]
        existing = set(Patient.objects.filter(mrn__startswith=MRN_PREFIX).values_list("mrn", flat=True))
        numbers = [n for n in range(1, patients + 1) if mrn(n) not in existing]
        link_user = accounts["demo-patient"]
        if Patient.objects.filter(user=link_user).exists():
            link_user = None

        for start in range(0, len(numbers), CHUNK):
            chunk = numbers[start : start + CHUNK]
            with transaction.atomic():
                self.create_patients(chunk, accounts["demo-clinician"], consultants, link_user)
            if len(numbers) > CHUNK:
                self.stderr.write(f"seed_demo: {start + len(chunk)}/{len(numbers)} patients")
        self.stdout.write(f"Seeded {len(numbers)} demo patients ({patients - len(numbers)} already existed).")

    def ensure_accounts(self) -> dict[str, User]:
        created = []
        accounts = {}
        with transaction.atomic():
            for username, role in ACCOUNTS:
                password = secrets.token_urlsafe(24)
                user, was_created = self.ensure_user(username, role, password=password)
                if was_created:
                    created.append((username, password))
                accounts[username] = user
        if created:
            self.stdout.write("Demo accounts created. Passwords are shown only this once:")
            for username, password in created:
                self.stdout.write(f"  {username:<16} {password}")
        return accounts

    def reset_passwords(self):
        """New passwords for the demo accounts (the first run's output is gone); other users are untouched."""
        with transaction.atomic():
            for username, role in ACCOUNTS:
                self.ensure_user(username, role, password=None)
            changed = []
            for user in User.objects.filter(username__in=[name for name, _ in ACCOUNTS]).order_by("username"):
                password = secrets.token_urlsafe(24)
                user.set_password(password)
                user.save(update_fields=["password"])
                changed.append((user.username, password))
        self.stdout.write("Demo account passwords reset. Shown only this once:")
        for username, password in changed:
            self.stdout.write(f"  {username:<16} {password}")

    def ensure_user(self, username: str, role: str, *, password: str | None) -> tuple[User, bool]:
        """(the existing account, untouched, or a new one with `password`; whether it is new)."""
        user = User.objects.filter(username__iexact=username).first()
        if user is not None:
            if not user.has_role(role):
                raise CommandError(f"User {username!r} exists with role {user.role!r}; expected {role!r}.")
            return user, False
        user = User(username=username, email=f"{username}@example.org", role=role)
        user.grant_admin_site_by_role()
        user.set_password(password)  # None: an unusable password, as create_user gives
        user.save(force_insert=True)
        return user, True

    def create_patients(self, numbers, clinician, consultants, link_user):
        now = timezone.now()
        patients, memberships, twins, revisions, interactions = [], [], [], [], []
        for number in numbers:
            rng = random.Random(number)  # noqa: S311 - made-up data, the same patient on every run
            given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
            patient = Patient(
                mrn=mrn(number),
                given_name=given,
                family_name=family,
                date_of_birth=datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 66)),
                sex=rng.choice(SEXES),
                email=f"{given}.{family}.{number}@example.org".lower(),
                phone=f"+1555{number:07d}",
                user=link_user if number == 1 else None,
                created_at=now,
                updated_at=now,
            )
            patients.append(patient)
            memberships.append(CareTeamMembership(patient=patient, clinician=clinician, role="primary", created_at=now))
            memberships.append(
                CareTeamMembership(
                    patient=patient, clinician=consultants[number % len(consultants)], role="consulting", created_at=now
                )
            )
            twin_types = ["psychiatric"] + (["biometric"] if rng.random() < 0.5 else [])
            by_type = {}
            for twin_type in twin_types:
                twin = DigitalTwin(
                    patient=patient,
                    name=f"{twin_type.capitalize()} twin",
                    twin_type=twin_type,
                    status="active",
                    configuration=CONFIGURATIONS[twin_type],
                    created_by=clinician,
                    created_at=now,
                    updated_at=now,
                )
                by_type[twin_type] = twin
                twins.append(twin)
                revisions.append(
                    TwinRevision(
                        twin=twin,
                        version=1,
                        configuration=CONFIGURATIONS[twin_type],
                        changed_by=clinician,
                        changed_at=now,
                    )
                )
            author = patient.user or clinician
            interactions.extend(self.history(rng, patient, by_type, author, clinician, now))

        Patient.objects.bulk_create(patients)
        CareTeamMembership.objects.bulk_create(memberships)
        DigitalTwin.objects.bulk_create(twins)
        TwinRevision.objects.bulk_create(revisions)
        InteractionLog.objects.bulk_create(interactions, batch_size=2000)

    def history(self, rng, patient, twins, author, clinician, now):
        psychiatric = twins["psychiatric"]
        sensor = twins.get("biometric", psychiatric)
        kinds = list(KINDS)
        rng.shuffle(kinds)
        seconds = sorted(rng.randrange(HISTORY_DAYS * 86400) for _ in kinds)
        for kind, ago in zip(kinds, reversed(seconds), strict=True):
            twin, actor = psychiatric, clinician
            if kind == "message":
                payload, actor = {"text": rng.choice(MESSAGES)}, author
            elif kind == "assessment":
                instrument = rng.choice(("PHQ-9", "GAD-7"))
                payload = {"instrument": instrument, "score": rng.randint(0, 27 if instrument == "PHQ-9" else 21)}
            elif kind == "observation":
                twin, actor = sensor, None
                payload = {"sleep_hours": round(rng.uniform(3, 9), 1), "resting_heart_rate": rng.randint(52, 95)}
            elif kind == "prediction":
                actor = None
                payload = {"model": "risk_relapse", "probability": round(rng.random(), 2)}
            else:
                payload = {"text": rng.choice(NOTES)}
            # Ids, not instances, and an explicit recorded_at (the seeding time): both skip
            # per-row ORM work that dominates inserting 200,000 entries.
            yield InteractionLog(
                patient_id=patient.id,
                twin_id=twin.id,
                actor_id=actor.id if actor else None,
                kind=kind,
                payload=payload,
                occurred_at=now - datetime.timedelta(seconds=ago),
                recorded_at=now,
            )
