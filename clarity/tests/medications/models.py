import uuid

from django.db import models
from django.utils import timezone


class Medication(models.Model):
    """A medication a patient takes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT, as twins and the log: a patient's records leave only through purge_patient.
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="medications")
    name = models.CharField(max_length=200)
    dose = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "medication"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"medication {self.pk}"
