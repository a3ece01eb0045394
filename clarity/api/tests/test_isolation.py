"""Per-test rollback really holds for the async views (pytest-django #580).

The first test writes through the adrf view, driven by DRF's sync APIClient; the second
runs after it (pytest keeps file order) and must see nothing of it. If the views' ORM
work ever escaped the test's transaction, the second test would fail.
"""

from clarity.api.tests.helpers import bearer_client
from clarity.audit.models import AuditEvent
from patients.models import Patient


def test_isolation_1_writes_a_patient_and_audit_events_through_the_async_api(clinician):
    response = bearer_client(clinician).post(
        "/api/v1/patients/",
        {"mrn": "ISO-1", "given_name": "Iso", "family_name": "Lation", "date_of_birth": "1990-01-01"},
        format="json",
    )

    assert response.status_code == 201
    assert Patient.objects.count() == 1
    assert AuditEvent.objects.filter(action="create").exists()


def test_isolation_2_sees_nothing_the_previous_test_wrote(db):
    assert Patient.objects.count() == 0
    assert not AuditEvent.objects.exists()
