"""A batch's ids are drawn together, before any of its rows is written (PostgreSQL).

Another insert that draws an id while the batch's rows are being written cannot land
inside the batch's range. A row trigger stands in for that concurrent insert: it draws an
id from the same sequence for every row written. Drawn row by row as the rows were
written, the batch's ids would alternate with the trigger's (1, 3, 5, ...): a range per
row, too long for the audit event's id, and one event per row."""

import pytest
from django.db import connection

from clarity.audit.models import AuditEvent
from patients.tests.factories import make_patient

from .helpers import item

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]

INTERLEAVE = """
CREATE FUNCTION test_interleave() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval(pg_get_serial_sequence('interactions_interactionlog', 'id'));
    RETURN NEW;
END $$;
CREATE TRIGGER test_interleave BEFORE INSERT ON interactions_interactionlog
    FOR EACH ROW EXECUTE FUNCTION test_interleave();
"""


def test_an_insert_while_a_batch_is_written_does_not_split_its_ids(clinician, client_for):
    patient = make_patient(primary=clinician)
    with connection.cursor() as cursor:
        cursor.execute(INTERLEAVE)  # dropped with the test's transaction

    response = client_for(clinician).post(
        f"/api/v1/patients/{patient.pk}/interactions/",
        [item("observation") for _ in range(100)],
        content_type="application/json",
    )

    assert response.status_code == 201
    ids = sorted(row["id"] for row in response.json())
    assert ids == list(range(ids[0], ids[0] + 100))
    events = AuditEvent.objects.filter(action="create", resource_type="interaction", patient_id=patient.pk)
    assert [event.resource_id for event in events] == [f"{ids[0]}-{ids[-1]}"]
