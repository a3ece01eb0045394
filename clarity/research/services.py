"""Writes for research datasets: defining one, and building it under HIPAA Safe Harbor.

A build runs in three phases, each in bounded memory and in short transactions:

1. **Subjects**: the cohort's patients are walked `CHUNK_PATIENTS` at a time (keyset on
   the patient id). Each gets — once per dataset, kept across rebuilds — a random
   pseudonym, and, every build, its quasi-identifiers: birth year (or "90+") and sex.
2. **k-anonymity**: one GROUP BY over the subjects finds the (birth year, sex) groups
   smaller than k; their subjects are suppressed.
3. **Rows**: subjects are walked `CHUNK_PATIENTS` at a time; their twins and interactions
   (structured columns only, read through the domain apps' selectors) become rows dated by
   year and numbered per subject. Each chunk commits with the id of its last subject, so a
   build interrupted here resumes where it stopped (`resume=True`).

Rows are written under the build's number; the previous ready build stays downloadable
until the new one is complete, and is deleted then.
"""

import heapq
import itertools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from clarity.audit.models import Action
from clarity.audit.services import AuditContext, audit_record
from clarity.errors import Conflict
from clarity.users.models import User
from interactions.selectors import research_facts
from twins.selectors import research_twin_facts

from .models import (
    AGE_90_PLUS,
    INSTRUMENTS,
    DatasetRow,
    DatasetStatus,
    DatasetSubject,
    ResearchDataset,
)
from .selectors import DOWNLOAD_COLUMNS, cohort_patients

CHUNK_PATIENTS = 200
ROWS_PER_INSERT = 1000
FETCH_CHUNK_ROWS = 2000
RESOURCE = "research_dataset"
SAFE_HARBOR = "HIPAA Safe Harbor, 45 CFR 164.514(b)(2)"
QUASI_IDENTIFIERS = ("birth_year", "sex")


def _researchers(ids) -> list[User]:
    users = list(User.objects.filter(pk__in=ids, is_active=True))
    if len(users) != len(set(ids)) or any(not user.is_researcher for user in users):
        raise ValidationError({"researchers": ["Each must be the id of an active researcher."]})
    return users


def dataset_create(*, actor: User, data: dict, ctx: AuditContext) -> ResearchDataset:
    """
    Define a dataset (not yet built). `data` holds the serializer's validated fields.
    Raises ValidationError (400) for a bad definition or a researcher id that is not an
    active researcher.
    """
    data = dict(data)
    researchers = _researchers(data.pop("researchers"))
    dataset = ResearchDataset(created_by=actor, **data)
    dataset.full_clean()
    with transaction.atomic():
        dataset.save(force_insert=True)
        dataset.researchers.set(researchers)
        audit_record(ctx, action=Action.CREATE, resource_type=RESOURCE, resource_id=dataset.pk)
    return dataset


def birth_year_group(date_of_birth, build_year: int) -> str:
    """Safe Harbor: ages over 89 (and the birth years that reveal them) become one "90+" group.
    Counting by year alone errs on the safe side: whoever might be 90 this year is grouped."""
    return AGE_90_PLUS if build_year - date_of_birth.year >= 90 else str(date_of_birth.year)


@dataclass
class _Log:
    """The build log (admins see it): counts and phases, never a patient's id or data."""

    dataset: ResearchDataset

    def write(self, message: str) -> None:
        stamp = timezone.now().isoformat(timespec="seconds")
        self.dataset.build_log = (self.dataset.build_log + f"{stamp} {message}\n")[-20000:]
        ResearchDataset.objects.filter(pk=self.dataset.pk).update(build_log=self.dataset.build_log)


def dataset_build(*, dataset_id, actor: User, ctx: AuditContext, resume: bool = False) -> ResearchDataset:
    """
    Build (or rebuild, or resume) a dataset's rows and manifest. Audited as `export`.
    Raises Conflict (409) when a build is already running (and `resume` is not asked), or
    when `resume` is asked with no interrupted build to resume.
    """
    with transaction.atomic():
        dataset = ResearchDataset.objects.select_for_update().get(pk=dataset_id)
        interrupted = dataset.status in (DatasetStatus.BUILDING, DatasetStatus.FAILED)
        if resume and not interrupted:
            raise Conflict("There is no interrupted build of this dataset to resume.")
        if not resume and dataset.status == DatasetStatus.BUILDING:
            raise Conflict("A build of this dataset is in progress; resume it if it was interrupted.")
        if not resume:
            dataset.build_number += 1
            dataset.build_cursor = None
            dataset.build_log = ""
        dataset.status = DatasetStatus.BUILDING
        dataset.built_by = actor
        dataset.save(update_fields=["build_number", "build_cursor", "build_log", "status", "built_by"])
        audit_record(ctx, action=Action.EXPORT, resource_type=RESOURCE, resource_id=dataset.pk)
    log = _Log(dataset)
    log.write(f"build {dataset.build_number} {'resumed' if resume else 'started'} by {actor.username}")
    try:
        if dataset.build_cursor is None:
            # Rows of a build that never completed are garbage; the ready build's stay.
            DatasetRow.objects.filter(dataset=dataset).exclude(build=dataset.ready_build or 0).delete()
            cohort = _phase_subjects(dataset, actor, log)
            suppressed_patients = _phase_k_anonymity(dataset, log)
            dataset.manifest = {
                **dataset.manifest,
                "_pending": {"cohort": cohort, "suppressed_patients": suppressed_patients},
            }
            dataset.build_cursor = 0
            dataset.save(update_fields=["manifest", "build_cursor"])
        written, suppressed_rows = _phase_rows(dataset, log)
        _finish(dataset, actor, written, suppressed_rows, log)
    except Exception as exc:
        ResearchDataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.FAILED)
        log.write(f"failed: {type(exc).__name__}; resume to continue")
        raise
    return dataset


def _phase_subjects(dataset: ResearchDataset, actor: User, log: _Log) -> int:
    build_year = timezone.now().year
    DatasetSubject.objects.filter(dataset=dataset).update(included=False, suppressed=False)
    patients = cohort_patients(dataset, actor)
    last, total = None, 0
    while True:
        page = patients.filter(pk__gt=last) if last is not None else patients
        chunk = list(page.order_by("pk").values_list("pk", "date_of_birth", "sex")[:CHUNK_PATIENTS])
        if not chunk:
            break
        last = chunk[-1][0]
        total += len(chunk)
        with transaction.atomic():
            existing = {
                subject.patient_id: subject
                for subject in DatasetSubject.objects.filter(dataset=dataset, patient_id__in=[row[0] for row in chunk])
            }
            new, changed = [], []
            for patient_id, date_of_birth, sex in chunk:
                birth_year = birth_year_group(date_of_birth, build_year)
                subject = existing.get(patient_id)
                if subject is None:
                    new.append(DatasetSubject(dataset=dataset, patient_id=patient_id, birth_year=birth_year, sex=sex))
                else:
                    subject.birth_year, subject.sex, subject.included = birth_year, sex, True
                    changed.append(subject)
            DatasetSubject.objects.bulk_create(new)
            DatasetSubject.objects.bulk_update(changed, ["birth_year", "sex", "included"])
    log.write(f"subjects: {total} patients in the cohort")
    return total


def _phase_k_anonymity(dataset: ResearchDataset, log: _Log) -> int:
    subjects = DatasetSubject.objects.filter(dataset=dataset, included=True)
    small = list(
        subjects.values("birth_year", "sex")
        .annotate(n=Count("id"))
        .filter(n__lt=dataset.k)
        .values_list("birth_year", "sex", "n")
    )
    if small:
        groups = Q()
        for birth_year, sex, _n in small:
            groups |= Q(birth_year=birth_year, sex=sex)
        subjects.filter(groups).update(suppressed=True)
    suppressed = sum(n for _b, _s, n in small)
    log.write(f"k-anonymity (k={dataset.k}): {len(small)} groups, {suppressed} patients suppressed")
    return suppressed


def _interaction_row(fact) -> dict:
    _patient, kind, instrument, score, occurred_at, _id = fact
    row = {"record": DatasetRow.Record.INTERACTION, "year": occurred_at.year, "kind": kind}
    # Only the two instruments the API accepts, and an integer score: anything else in an
    # old or hand-written payload is dropped rather than copied.
    if kind == "assessment" and instrument in INSTRUMENTS:
        row["instrument"] = instrument
        try:
            row["score"] = int(score)
        except (TypeError, ValueError):
            row["score"] = None
    return row


def _twin_row(fact) -> dict:
    _patient, twin_type, status, created_at, _id = fact
    return {"record": DatasetRow.Record.TWIN, "year": created_at.year, "twin_type": twin_type, "twin_status": status}


def _phase_rows(dataset: ResearchDataset, log: _Log) -> tuple[int, int]:
    kinds = list(dataset.interaction_kinds)
    pending = dataset.manifest.get("_pending", {})
    written = pending.get("rows", 0)
    suppressed_rows = pending.get("suppressed_rows", 0)
    while True:
        subjects = list(
            DatasetSubject.objects.filter(dataset=dataset, included=True, pk__gt=dataset.build_cursor).order_by("pk")[
                :CHUNK_PATIENTS
            ]
        )
        if not subjects:
            break
        by_patient = {subject.patient_id: subject for subject in subjects}
        twins = {
            patient_id: list(facts)
            for patient_id, facts in itertools.groupby(research_twin_facts(list(by_patient)), key=lambda fact: fact[0])
        }
        with transaction.atomic():
            buffer = []
            seen = set()
            facts = research_facts(list(by_patient), kinds, chunk_size=FETCH_CHUNK_ROWS) if kinds else iter(())
            grouped = itertools.groupby(facts, key=lambda fact: fact[0])
            leftovers = ((patient_id, iter(())) for patient_id in by_patient)
            for patient_id, interactions in itertools.chain(grouped, leftovers):
                if patient_id in seen:
                    continue
                seen.add(patient_id)
                subject = by_patient[patient_id]
                # One time line per patient: twins (by creation) merged with interactions (by
                # occurrence), so `seq` keeps the order that the year-only dates no longer can.
                timeline = heapq.merge(
                    ((fact[3], 0, _twin_row(fact)) for fact in twins.get(patient_id, ())),
                    ((fact[4], 1, _interaction_row(fact)) for fact in interactions),
                    key=lambda item: (item[0], item[1]),
                )
                for seq, (_when, _order, row) in enumerate(timeline, start=1):
                    if subject.suppressed:
                        suppressed_rows += 1
                        continue
                    buffer.append(
                        DatasetRow(
                            dataset=dataset,
                            build=dataset.build_number,
                            pseudonym=subject.pseudonym,
                            seq=seq,
                            birth_year=subject.birth_year,
                            sex=subject.sex,
                            **row,
                        )
                    )
                    if len(buffer) >= ROWS_PER_INSERT:
                        DatasetRow.objects.bulk_create(buffer)
                        written += len(buffer)
                        buffer = []
            DatasetRow.objects.bulk_create(buffer)
            written += len(buffer)
            dataset.build_cursor = subjects[-1].pk
            dataset.manifest = {
                **dataset.manifest,
                "_pending": {**pending, "rows": written, "suppressed_rows": suppressed_rows},
            }
            pending = dataset.manifest["_pending"]
            dataset.save(update_fields=["build_cursor", "manifest"])
    log.write(f"rows: {written} written, {suppressed_rows} suppressed")
    return written, suppressed_rows


def _finish(dataset: ResearchDataset, actor: User, written: int, suppressed_rows: int, log: _Log) -> None:
    pending = dataset.manifest.get("_pending", {})
    now = timezone.now()
    kept = DatasetSubject.objects.filter(dataset=dataset, included=True, suppressed=False).count()
    with transaction.atomic():
        previous = dataset.ready_build
        dataset.manifest = {
            "dataset": str(dataset.pk),
            "name": dataset.name,
            "purpose": dataset.purpose,
            "build": dataset.build_number,
            "built_by": actor.username,
            # The download holds no full date at all, so any date-shaped text in it is a leak;
            # the exact build time is on the dataset's API representation.
            "built_year": now.year,
            "rules": {
                "method": SAFE_HARBOR,
                "cohort": {"kind": dataset.cohort_kind, "value": dataset.cohort_value or None},
                "interaction_kinds": list(dataset.interaction_kinds),
                "dates": "year only; order within a patient is kept by seq",
                "ages_over_89": f'birth_year "{AGE_90_PLUS}"',
                "pseudonyms": "random per patient, stable within this dataset, unrelated across datasets",
                "free_text": "never included (messages, notes, payloads, names, twin configurations)",
                "k_anonymity": {"k": dataset.k, "quasi_identifiers": list(QUASI_IDENTIFIERS)},
                "columns": list(DOWNLOAD_COLUMNS),
            },
            "counts": {
                "cohort_patients": pending.get("cohort", 0),
                "patients": kept,
                "rows": written,
                "suppressed_patients": pending.get("suppressed_patients", 0),
                "suppressed_rows": suppressed_rows,
            },
        }
        dataset.status = DatasetStatus.READY
        dataset.ready_build = dataset.build_number
        dataset.built_at = now
        dataset.build_cursor = None
        dataset.save(update_fields=["manifest", "status", "ready_build", "built_at", "build_cursor"])
    if previous is not None and previous != dataset.ready_build:
        DatasetRow.objects.filter(dataset=dataset, build=previous).delete()
    log.write(f"ready: build {dataset.build_number}, {kept} patients, {written} rows")
