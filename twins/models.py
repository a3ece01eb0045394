import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .configuration import validate_configuration


class TwinType(models.TextChoices):
    PSYCHIATRIC = "psychiatric"
    BIOMETRIC = "biometric"
    TREATMENT_RESPONSE = "treatment_response"
    INTEGRATED = "integrated"


class TwinStatus(models.TextChoices):
    INITIALIZING = "initializing"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


def empty_configuration():
    return {}


class DigitalTwin(models.Model):
    """
    A computational model of one patient's mental-health course. Clinicians tune its
    `configuration` (every change is kept as a TwinRevision); the modelling engine
    writes its latest computed `state`. A patient has at most one live (non-archived)
    twin of each type; archiving is how a twin is retired, it is never deleted.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT: a twin is PHI history; deleting its patient must not take it along.
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="twins")
    name = models.CharField(max_length=200)
    twin_type = models.CharField(max_length=32, choices=TwinType.choices)
    status = models.CharField(max_length=16, choices=TwinStatus.choices, default=TwinStatus.INITIALIZING)
    # blank=True: {} is a valid (all-defaults) configuration, not a missing one; clean()
    # still rejects anything that is not an object.
    configuration = models.JSONField(default=empty_configuration, blank=True)
    state = models.JSONField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="twins_created"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "digital twin"
        ordering = ["patient", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "twin_type"],
                condition=~models.Q(status=TwinStatus.ARCHIVED),
                name="twins_digitaltwin_one_live_per_type",
            ),
            models.CheckConstraint(
                condition=models.Q(twin_type__in=TwinType.values), name="twins_digitaltwin_twin_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=TwinStatus.values), name="twins_digitaltwin_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="twins_digitaltwin_version_positive"),
            models.CheckConstraint(condition=~models.Q(name=""), name="twins_digitaltwin_name_required"),
        ]
        indexes = [
            models.Index(fields=["patient", "created_at", "id"], name="twins_digitaltwin_patient_idx"),
        ]

    def __str__(self):
        return f"twin {self.id} ({self.twin_type})"

    def clean(self):
        super().clean()
        errors = validate_configuration(self.configuration)
        if errors:
            raise ValidationError({"configuration": [f"{path}: {msgs[0]}" for path, msgs in errors.items()]})


class TwinRevision(models.Model):
    """
    One configuration of a twin, kept forever: revision N is the configuration the twin
    had at version N. Append-only; the database refuses UPDATE and DELETE.
    """

    twin = models.ForeignKey(DigitalTwin, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    configuration = models.JSONField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="twin_revisions"
    )
    changed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "twin revision"
        ordering = ["twin", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["twin", "version"], name="twins_twinrevision_unique_version"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="twins_twinrevision_version_positive"),
        ]

    def __str__(self):
        return f"twin revision {self.twin_id} v{self.version}"

    def clean(self):
        super().clean()
        errors = validate_configuration(self.configuration)
        if errors:
            raise ValidationError({"configuration": [f"{path}: {msgs[0]}" for path, msgs in errors.items()]})
