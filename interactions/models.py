from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .payloads import validate_payload


class Kind(models.TextChoices):
    MESSAGE = "message"
    ASSESSMENT = "assessment"
    OBSERVATION = "observation"
    PREDICTION = "prediction"
    ALERT = "alert"
    NOTE = "note"


class InteractionLog(models.Model):
    """
    One event in a patient's interaction history with their twins: a message, an
    assessment score, an observation, a model prediction, an alert or a note.

    Append-only: the application never updates or deletes a row, and the database
    refuses it too (triggers created by this app's migrations). `occurred_at` is the
    client's clock; `recorded_at` is the database's.
    """

    id = models.BigAutoField(primary_key=True)
    # PROTECT everywhere: interaction history outlives every other row it points at.
    # No single-column indexes on patient and twin: the composite indexes below lead with
    # them (one index fewer to update per inserted row; migration 0005).
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="interactions", db_index=False
    )
    twin = models.ForeignKey(
        "twins.DigitalTwin",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="interactions",
        db_index=False,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="interactions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # blank=True: {} is a valid payload for most kinds; clean() applies the per-kind rules.
    payload = models.JSONField(blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(db_default=Now())
    # "<Idempotency-Key>:<index in the request>" when the client sent a key.
    idempotency_key = models.CharField(max_length=300, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "interaction log entry"
        verbose_name_plural = "interaction log"
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=Kind.values), name="interactions_interactionlog_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "-occurred_at", "-id"], name="interactions_patient_recent"),
            # Partial: a twin's timeline asks for twin = X, and rows without a twin (most of a
            # batch from a device, say) cost no entry to write.
            models.Index(
                fields=["twin", "-occurred_at"],
                condition=models.Q(twin__isnull=False),
                name="interactions_twin_recent",
            ),
            # Not unique: on PostgreSQL the table is partitioned by month on occurred_at and
            # a unique index would have to include it. Exactly-once is IdempotencyRecord's
            # unique (actor, key), inserted in the same transaction as these rows.
            models.Index(
                fields=["actor", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="interactions_idempotency_key",
            ),
        ]

    def __str__(self):
        return f"interaction {self.pk} ({self.kind})"

    def clean(self):
        super().clean()
        errors = {}
        if self.kind in Kind.values:
            for path, messages in validate_payload(self.kind, self.payload).items():
                errors.setdefault("payload", []).append(f"{path}: {messages[0]}")
        if self.twin_id is not None and self.patient_id is not None and self.twin.patient_id != self.patient_id:
            errors["twin"] = ["The twin must belong to the same patient."]
        if errors:
            raise ValidationError(errors)


class IdempotencyRecord(models.Model):
    """
    The remembered outcome of a POST made with an `Idempotency-Key` (IETF draft): the
    same caller retrying with the same key and body gets this status and body again.
    The unique (actor, key) constraint — not timing — makes concurrent retries safe.
    """

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "idempotency record"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["actor", "key"], name="interactions_idempotencyrecord_unique_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="interactions_idem_created_idx")]

    def __str__(self):
        return f"idempotency record {self.pk}"

    @classmethod
    def patient_rows(cls, patient_id) -> models.QuerySet:
        """The records whose stored body (one interaction or a batch) belongs to the patient:
        they quote its interactions, so a purge deletes them (patients/registry.py)."""
        target = str(patient_id)
        if connection.vendor == "postgresql":
            return cls.objects.filter(
                Q(response_body__contains={"patient": target}) | Q(response_body__contains=[{"patient": target}])
            )
        # SQLite has no JSON containment lookup: match single and batch bodies in Python.
        matching = []
        for pk, body in cls.objects.values_list("pk", "response_body").iterator():
            items = body if isinstance(body, list) else [body]
            if any(isinstance(item, dict) and item.get("patient") == target for item in items):
                matching.append(pk)
        return cls.objects.filter(pk__in=matching)
