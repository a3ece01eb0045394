"""clarity/compiled.py: a queryset compiled once per shape gives the rows the ORM gives."""

import datetime

import pytest

from clarity.compiled import QueryTemplate
from interactions.models import InteractionLog
from interactions.selectors import LOG_COLUMNS, as_log_rows, interactions_of
from interactions.tests.helpers import BASE_TIME, make_interactions
from interactions.views import LOG_PAGES, _log_page
from patients.tests.factories import make_patient
from twins.tests.factories import make_twin

pytestmark = pytest.mark.django_db

SHAPES = [
    ((False, 6), {}),
    ((False, 200), {"kind": "observation"}),
    ((True, 6), {"since": BASE_TIME + datetime.timedelta(minutes=5), "until": BASE_TIME + datetime.timedelta(hours=1)}),
    ((False, 3), {"after": (BASE_TIME + datetime.timedelta(minutes=20), None)}),
    ((True, 4), {"after": (BASE_TIME + datetime.timedelta(minutes=20), None), "kind": "note"}),
    ((False, 6), {"twin": True}),
]


@pytest.fixture
def logs():
    patient, other = make_patient(), make_patient()
    twin = make_twin(patient)
    rows = make_interactions(patient, 30) + make_interactions(patient, 10, kind="note", twin=twin)
    make_interactions(other, 10)
    return patient, twin, rows


@pytest.mark.parametrize(("shape", "case"), SHAPES)
def test_each_shape_gives_the_orms_rows_for_several_values(logs, shape, case):
    patient, twin, rows = logs
    for patient_id in (patient.pk, make_patient().pk):  # a second run binds other values
        after_at, after_id = case.get("after", (None, None))
        if after_at is not None:
            after_id = max(row.pk for row in rows)
        values = {
            "patient_id": patient_id,
            "after_at": after_at,
            "after_id": after_id,
            "kind": case.get("kind"),
            "twin_id": twin.pk if case.get("twin") else None,
            "since": case.get("since"),
            "until": case.get("until"),
        }
        expected = list(_log_page(shape, **values))

        assert LOG_PAGES.rows("default", shape, **values) == expected
        assert all(row._fields == LOG_COLUMNS for row in LOG_PAGES.rows("default", shape, **values))


@pytest.mark.postgres_only
def test_on_postgresql_the_statement_is_compiled_once_per_shape(logs):
    patient, _twin, _rows = logs
    template = QueryTemplate(_log_page)
    values = {"patient_id": patient.pk, "after_at": None, "after_id": None}

    template.rows("default", (False, 5), **values)
    template.rows("default", (False, 5), **{**values, "patient_id": make_patient().pk})
    template.rows("default", (False, 5), **{**values, "kind": "note"})

    compiled = list(template._compiled.values())
    assert len(compiled) == 2 and all(entry is not None for entry in compiled)


@pytest.mark.postgres_only
def test_a_value_written_into_the_sql_is_never_templated(logs):
    patient, _twin, _rows = logs

    def build(shape, *, patient_id, size):  # the slice's bound is written into the SQL
        return as_log_rows(interactions_of(patient_id)).order_by("-occurred_at", "-id")[:size]

    template = QueryTemplate(build)
    first = template.rows("default", None, patient_id=patient.pk, size=3)
    second = template.rows("default", None, patient_id=patient.pk, size=7)

    assert (len(first), len(second)) == (3, 7)
    assert list(template._compiled.values()) == [None]
    assert [row.id for row in second] == list(
        InteractionLog.objects.filter(patient=patient).order_by("-occurred_at", "-id").values_list("id", flat=True)[:7]
    )
