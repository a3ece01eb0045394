import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, validate_email
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from clarity.crypto import BlindIndexField, EncryptedTextField

from .validators import EARLIEST_DATE_OF_BIRTH, validate_date_of_birth, validate_e164_phone


class Sex(models.TextChoices):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNKNOWN = "unknown"


class PatientStatus(models.TextChoices):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Patient(models.Model):
    """
    A person whose mental-health course Clarity records: the root of all PHI.

    The API never hard-deletes a patient (HIPAA retention); DELETE marks it inactive.
    `version` is bumped on every change and is the ETag clients send back in If-Match.
    `__str__` shows only the id, because names and MRNs are PHI and logs print models.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    mrn = models.CharField("medical record number", max_length=64)
    given_name = models.CharField(max_length=150)
    family_name = models.CharField(max_length=150)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=16, choices=Sex.choices, default=Sex.UNKNOWN)
    # Contact details are encrypted at rest (AES-256-GCM, clarity/crypto.py); exact-match
    # search on email and phone goes through the keyed blind indexes below.
    email = EncryptedTextField(blank=True, null=True, validators=[validate_email, MaxLengthValidator(254)])
    phone = EncryptedTextField(
        blank=True,
        null=True,
        validators=[validate_e164_phone],
        help_text="E.164, e.g. +14155550123",
    )
    address = EncryptedTextField(blank=True, null=True, validators=[MaxLengthValidator(1000)])
    email_bidx = BlindIndexField(source="email", kind="email")
    phone_bidx = BlindIndexField(source="phone", kind="phone")
    status = models.CharField(max_length=16, choices=PatientStatus.choices, default=PatientStatus.ACTIVE)
    # The patient's own login, if they have one. SET_NULL would silently detach the
    # record; PROTECT makes removing such a login a deliberate act.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="patient_record",
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "patient"
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["mrn"], name="patients_patient_mrn_unique"),
            models.CheckConstraint(condition=~models.Q(mrn=""), name="patients_patient_mrn_required"),
            models.CheckConstraint(condition=models.Q(sex__in=Sex.values), name="patients_patient_sex_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=PatientStatus.values), name="patients_patient_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(date_of_birth__gte=EARLIEST_DATE_OF_BIRTH), name="patients_patient_dob_after_1900"
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="patients_patient_version_positive"),
            models.CheckConstraint(
                condition=~models.Q(given_name="") & ~models.Q(family_name=""), name="patients_patient_names_required"
            ),
        ]
        indexes = [
            models.Index(fields=["family_name", "given_name", "id"], name="patients_patient_name_order"),
            models.Index(fields=["status"], name="patients_patient_status_idx"),
        ]

    def __str__(self):
        return f"patient {self.id}"

    def clean(self):
        super().clean()
        errors = {}
        if self.date_of_birth:
            try:
                validate_date_of_birth(self.date_of_birth)
            except ValidationError as exc:
                errors["date_of_birth"] = exc
        if self.user_id is not None and not self.user.is_patient:
            errors["user"] = "A patient record can only be linked to a patient-role user."
        if errors:
            raise ValidationError(errors)


class CareTeamRole(models.TextChoices):
    PRIMARY = "primary"
    CONSULTING = "consulting"

    @classmethod
    def is_primary(cls, role: str | None) -> bool:
        """The one comparison of a care-team role (a membership's, a form's or a query's value)."""
        return role == cls.PRIMARY


class CareTeamMembership(models.Model):
    """
    A clinician's place on a patient's care team. The care team is what grants a
    clinician access to the patient's data; a patient has at most one primary clinician.
    """

    # Memberships are part of the patient record and go only with an explicit purge.
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team")
    # PROTECT: a clinician who was on care teams is deactivated, never deleted.
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_teams")
    role = models.CharField(max_length=16, choices=CareTeamRole.choices, default=CareTeamRole.CONSULTING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "care-team membership"
        ordering = ["patient", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "clinician"], name="patients_careteammembership_unique_member"),
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(role=CareTeamRole.PRIMARY),
                name="patients_careteammembership_one_primary",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=CareTeamRole.values), name="patients_careteammembership_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["clinician", "patient"], name="patients_careteam_clinician"),
        ]

    def __str__(self):
        return f"care-team membership {self.pk} ({self.role})"

    def clean(self):
        super().clean()
        if self.clinician_id is not None and not self.clinician.is_clinician:
            raise ValidationError({"clinician": "Only clinician-role users can join a care team."})


class BreakGlassGrant(models.Model):
    """
    Emergency, time-limited, read-only access by a clinician who is not on the patient's
    care team. Every use is audited with `break_glass = true`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="break_glass_grants")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants")
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "break-the-glass grant"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="patients_breakglassgrant_expires_after_created",
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Length("reason"), 20),
                name="patients_breakglassgrant_reason_min_length",
            ),
        ]
        indexes = [
            models.Index(fields=["clinician", "patient", "expires_at"], name="patients_breakglass_lookup"),
        ]

    def __str__(self):
        return f"break-glass grant {self.id}"
