"""De-identified research datasets (HIPAA Safe Harbor, 45 CFR §164.514(b)(2)).

A dataset is defined by an admin (who it is for, which patients, which interaction kinds),
built by `services.dataset_build` into rows that hold no identifier and no free text, and
downloaded by the researchers named on it. Patients appear under random pseudonyms kept in
`DatasetSubject`, which never leaves Clarity: it is what keeps a pseudonym stable across
rebuilds of one dataset while two datasets share nothing.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from interactions.models import Kind
from twins.models import TwinType

DEFAULT_K = 5
INSTRUMENTS = ("PHQ-9", "GAD-7")
# Any kind may be chosen: only its kind and year are ever copied (instrument and score too
# for assessments); payloads, which may carry free text, never are.
SELECTABLE_KINDS = tuple(Kind.values)
AGE_90_PLUS = "90+"


def new_pseudonym() -> str:
    """16 random hex characters: drawn from the OS's CSPRNG, never computed from anything about the patient."""
    return secrets.token_hex(8)


class CohortKind(models.TextChoices):
    ALL_ACTIVE = "all_active", "All active patients"
    TWIN_TYPE = "twin_type", "Active patients with a twin of a type"
    INSTRUMENT = "instrument", "Active patients with an assessment on an instrument"


class DatasetStatus(models.TextChoices):
    DEFINED = "defined"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class ResearchDataset(models.Model):
    """
    A research dataset: its definition (written by an admin), the researchers it is for,
    and the manifest of its latest build (who built it, when, with which rules, how many
    rows were kept and suppressed). Holds no PHI; its rows are `DatasetRow`s.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    purpose = models.TextField(max_length=2000)
    researchers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="research_datasets", blank=True)
    cohort_kind = models.CharField(max_length=16, choices=CohortKind.choices, default=CohortKind.ALL_ACTIVE)
    cohort_value = models.CharField(max_length=32, blank=True, default="")
    interaction_kinds = models.JSONField(default=list, blank=True)
    k = models.PositiveSmallIntegerField("k-anonymity threshold", default=DEFAULT_K)
    status = models.CharField(max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.DEFINED)
    build_number = models.PositiveIntegerField(default=0)
    # The build researchers download: the previous one stays downloadable while a rebuild runs.
    ready_build = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # The last subject whose rows are written: a build interrupted mid-way resumes after it.
    build_cursor = models.BigIntegerField(null=True, blank=True, editable=False)
    manifest = models.JSONField(default=dict, blank=True)
    build_log = models.TextField(blank=True, default="")
    # PROTECT: the admins who defined and built a dataset stay named in its manifest.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="research_datasets_created"
    )
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="research_datasets_built",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "research dataset"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(name=""), name="research_researchdataset_name_required"),
            models.CheckConstraint(condition=~models.Q(purpose=""), name="research_researchdataset_purpose_required"),
            models.CheckConstraint(condition=models.Q(k__gte=2), name="research_researchdataset_k_at_least_2"),
            models.CheckConstraint(
                condition=models.Q(status__in=DatasetStatus.values), name="research_researchdataset_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(cohort_kind=CohortKind.ALL_ACTIVE, cohort_value="")
                    | models.Q(cohort_kind=CohortKind.TWIN_TYPE, cohort_value__in=TwinType.values)
                    | models.Q(cohort_kind=CohortKind.INSTRUMENT, cohort_value__in=INSTRUMENTS)
                ),
                name="research_researchdataset_cohort_valid",
            ),
        ]
        indexes = [models.Index(fields=["-created_at", "-id"], name="research_dataset_order")]

    def __str__(self):
        return f"research dataset {self.id}"


class DatasetSubject(models.Model):
    """
    One patient's place in one dataset: their random pseudonym and quasi-identifiers
    (birth year or "90+", sex) as of the latest build. Internal only — this is the link
    back to the patient and is never downloaded or shown.
    """

    dataset = models.ForeignKey(ResearchDataset, on_delete=models.CASCADE, related_name="subjects")
    # CASCADE: purging a patient (a legal request) removes the link; the rows already built
    # stay de-identified and can no longer be traced to anyone.
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    pseudonym = models.CharField(max_length=32, default=new_pseudonym)
    birth_year = models.CharField(max_length=4)
    sex = models.CharField(max_length=16)
    included = models.BooleanField(default=True)
    suppressed = models.BooleanField(default=False)

    class Meta:
        verbose_name = "dataset subject"
        ordering = ["dataset", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "patient"], name="research_datasetsubject_one_per_patient"),
            models.UniqueConstraint(fields=["dataset", "pseudonym"], name="research_datasetsubject_pseudonym_unique"),
        ]

    def __str__(self):
        return f"dataset subject {self.pk}"


class DatasetRow(models.Model):
    """
    One de-identified fact: a twin (type, status) or an interaction (kind; instrument and
    score for assessments) of a pseudonymous subject, dated by year only, ordered within
    the subject by `seq`. The subject's quasi-identifiers are copied on each row so a
    download is one index scan with no join.
    """

    class Record(models.TextChoices):
        TWIN = "twin"
        INTERACTION = "interaction"

    id = models.BigAutoField(primary_key=True)
    dataset = models.ForeignKey(ResearchDataset, on_delete=models.CASCADE, related_name="rows")
    build = models.PositiveIntegerField()
    pseudonym = models.CharField(max_length=32)
    seq = models.PositiveIntegerField()
    birth_year = models.CharField(max_length=4)
    sex = models.CharField(max_length=16)
    record = models.CharField(max_length=16, choices=Record.choices)
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, blank=True, default="")
    instrument = models.CharField(max_length=8, blank=True, default="")
    score = models.SmallIntegerField(null=True, blank=True)
    twin_type = models.CharField(max_length=32, blank=True, default="")
    twin_status = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        verbose_name = "dataset row"
        ordering = ["dataset", "build", "pseudonym", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "build", "pseudonym", "seq"], name="research_datasetrow_seq_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(record__in=["twin", "interaction"]), name="research_datasetrow_record_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(instrument__in=["", *INSTRUMENTS]), name="research_datasetrow_instrument_valid"
            ),
        ]

    def __str__(self):
        return f"dataset row {self.pk}"
