"""Reads for the interaction log. Callers check patient access first (patients.selectors)."""

import orjson
from django.db.models import Case, Max, Q, TextField, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from clarity.postgres import planned_for_its_values
from twins.models import DigitalTwin

from .models import InteractionLog

# A page of the log is read as tuples, not models: a model per row (its __init__ and the
# pre_init/post_init signals it sends, then decoding the payload's JSON into Python only to
# encode it again) was ~15 % of the CPU of a page of 50 under load. The payload comes back
# as the database's own JSON text; LogRow hands it to orjson as it is.
# The annotation last: the statement then selects the columns in this order
# (clarity/compiled.py runs it without the ORM reordering rows).
LOG_COLUMNS = ("id", "twin_id", "actor_id", "kind", "occurred_at", "recorded_at", "payload_json")


class LogRow:
    """One row of LOG_COLUMNS with the attributes `interaction_representation` reads from an
    InteractionLog (the patient is the page's)."""

    __slots__ = ("id", "patient_id", "twin_id", "actor_id", "kind", "payload", "occurred_at", "recorded_at")

    def __init__(self, patient_id, row: tuple):
        self.patient_id = patient_id
        (self.id, self.twin_id, self.actor_id, self.kind, self.occurred_at, self.recorded_at, payload) = row
        self.payload = orjson.Fragment(payload)  # copied into the document as it is


def as_log_rows(queryset):
    """`queryset` of InteractionLog as named tuples of LOG_COLUMNS (wrap each in a LogRow)."""
    return queryset.annotate(payload_json=Cast("payload", TextField())).values_list(*LOG_COLUMNS, named=True)


def interactions_of(patient_id, *, kind=None, twin_id=None, since=None, until=None):
    """One patient's log, filtered; callers order it (-occurred_at, -id) to use the patient index."""
    queryset = InteractionLog.objects.filter(patient_id=patient_id)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    if twin_id is not None:
        queryset = queryset.filter(twin_id=twin_id)
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    if until is not None:
        queryset = queryset.filter(occurred_at__lt=until)
    return queryset


def twins_of_patient(patient_id, twin_ids) -> set:
    """Which of `twin_ids` belong to the patient, in one query."""
    if not twin_ids:
        return set()
    return set(DigitalTwin.objects.filter(patient_id=patient_id, pk__in=twin_ids).values_list("pk", flat=True))


def export_upper_bound() -> int:
    """
    The newest interaction id now: an export covers the patient's interactions with ids up
    to it, so a document streamed over minutes is the log as of its start (the log is
    append-only).

    The log's newest id, not the patient's: PostgreSQL answers MAX(id) from the top of each
    partition's primary key, and for one patient's maximum it walked a partition's key
    backwards through every other patient's rows. After make bench's batches had put 9.5
    million rows in one month, with statistics from before them, an export waited 6.6 s for
    its first byte (the query alone, rerun later with its pages cached: 1.5 s); with this
    bound the whole export took 1.04-1.10 s in the same scenario.
    """
    return InteractionLog.objects.aggregate(top=Max("id"))["top"] or 0


def interaction_page_for_export(patient_id, *, up_to_id: int, after: tuple | None, rows: int) -> list[tuple]:
    """
    One page of the patient's interactions, newest first, as tuples of LOG_COLUMNS
    order: ids up to `up_to_id`, strictly after the (occurred_at, id) position `after`
    (keyset paging on the interactions_patient_recent index). Each page is one short
    query, so the caller can give the database connection back between pages.
    """
    queryset = InteractionLog.objects.filter(patient_id=patient_id, id__lte=up_to_id)
    if after is not None:
        occurred_at, pk = after
        # The redundant `occurred_at <= …` lets both planners seek the index to the page's
        # start; with the OR alone they walk the patient's entries from the newest (each
        # page costing as much as all pages before it).
        queryset = queryset.filter(
            Q(occurred_at__lte=occurred_at), Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, id__lt=pk)
        )
    page = as_log_rows(queryset.order_by("-occurred_at", "-id"))[:rows]
    with planned_for_its_values(page.db):  # the connection the page is read on (a replica or not)
        return list(page)


# --- De-identified research datasets (clarity/research) ---------------------------------
# Structured facts only: an assessment's instrument and score are read out of the payload
# in SQL, so no other payload content (free text) ever reaches the research app.
RESEARCH_FACT_COLUMNS = ("patient_id", "kind", "instrument", "score", "occurred_at", "id")


def patients_with_assessment(instrument: str):
    """Ids of patients with at least one assessment on `instrument`, as a subquery."""
    return InteractionLog.objects.filter(kind="assessment", payload__instrument=instrument).values("patient_id")


def research_facts(patient_ids, kinds, *, chunk_size: int):
    """
    The interactions of `patient_ids` whose kind is in `kinds`, as tuples in
    RESEARCH_FACT_COLUMNS order, each patient's oldest first; `instrument` and `score` are
    filled for assessments only (as text, straight from the payload) and NULL otherwise.
    Read through a cursor, `chunk_size` rows at a time. Callers check access first.
    """
    assessment = Q(kind="assessment")
    return (
        InteractionLog.objects.filter(patient_id__in=patient_ids, kind__in=kinds)
        .order_by("patient_id", "occurred_at", "id")
        .annotate(
            instrument=Case(When(assessment, then=KT("payload__instrument")), default=Value(None)),
            score=Case(When(assessment, then=KT("payload__score")), default=Value(None)),
        )
        .values_list(*RESEARCH_FACT_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )


def assessments_of(patient_id, *, instruments, since=None, until=None):
    """One patient's assessments on `instruments` (FHIR Observations); callers order them."""
    return interactions_of(patient_id, kind="assessment", since=since, until=until).filter(
        payload__instrument__in=list(instruments)
    )


def assessment_by_id(interaction_id, *, instruments):
    """The assessment `interaction_id` on one of `instruments`, or None. Callers check access to
    its patient (`patient_access_for`) before returning it."""
    return (
        InteractionLog.objects.filter(pk=interaction_id, kind="assessment", payload__instrument__in=list(instruments))
        .order_by()
        .first()
    )
