"""Reads for research datasets: who reaches which dataset, and which patients a definition covers."""

from django.core.exceptions import ValidationError

from clarity.errors import OutOfScope
from interactions.selectors import patients_with_assessment
from patients.models import PatientStatus
from patients.selectors import patients_visible_to
from twins.selectors import patients_with_twin_type

from .models import CohortKind, DatasetRow, ResearchDataset


def datasets_visible_to(user):
    """Admins see every definition; a researcher sees the datasets naming them; nobody else any."""
    queryset = ResearchDataset.objects.all()
    if user.is_admin:
        return queryset
    if user.is_researcher:
        return queryset.filter(researchers=user)
    return queryset.none()


def dataset_for(user, dataset_id) -> ResearchDataset:
    """The dataset if `user` may see it; OutOfScope (404) whether it is missing or not theirs."""
    try:
        dataset_id = ResearchDataset._meta.pk.to_python(dataset_id)
    except ValidationError:
        raise OutOfScope("research_dataset", dataset_id) from None
    dataset = datasets_visible_to(user).filter(pk=dataset_id).first()
    if dataset is None:
        raise OutOfScope("research_dataset", dataset_id)
    return dataset


def cohort_patients(dataset: ResearchDataset, actor):
    """
    The patients a definition covers, as a queryset of the patients app's scoped selector
    for the admin building it (so the access rule is the one every API read uses): active
    patients only, narrowed to those with a twin of a type or an assessment on an instrument.
    """
    queryset = patients_visible_to(actor).filter(status=PatientStatus.ACTIVE)
    if dataset.cohort_kind == CohortKind.TWIN_TYPE:
        queryset = queryset.filter(pk__in=patients_with_twin_type(dataset.cohort_value))
    elif dataset.cohort_kind == CohortKind.INSTRUMENT:
        queryset = queryset.filter(pk__in=patients_with_assessment(dataset.cohort_value))
    return queryset.order_by()


DOWNLOAD_COLUMNS = (
    "pseudonym", "seq", "birth_year", "sex", "record", "year", "kind", "instrument", "score", "twin_type", "twin_status",
)  # fmt: skip


def download_rows(dataset: ResearchDataset, *, chunk_size: int):
    """The ready build's rows in DOWNLOAD_COLUMNS order, by (pseudonym, seq), through one
    cursor: on PostgreSQL a WITH HOLD cursor, a consistent snapshot even if a rebuild
    replaces the rows while the download is still streaming."""
    return (
        DatasetRow.objects.filter(dataset=dataset, build=dataset.ready_build)
        .order_by("pseudonym", "seq")
        .values_list(*DOWNLOAD_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )
