"""Real races against a live server on PostgreSQL: the database constraint is the judge.

Threads release their requests together (a barrier) over real HTTP with real bearer
tokens. These tests commit, so they run on PostgreSQL only (SQLite's flush
would trip the append-only triggers).
"""

import threading
from collections import Counter

import httpx
import pytest

from clarity.api.tests.helpers import issue_token
from clarity.users.tests.factories import UserFactory
from patients.models import Patient
from patients.tests.factories import make_patient


def _race(url_for, method, count, *, token, json, headers=None):
    """Send `count` identical requests at once; return their status codes."""
    barrier = threading.Barrier(count)
    statuses = [None] * count

    def worker(index):
        with httpx.Client(headers={"Authorization": f"Bearer {token}", **(headers or {})}, timeout=30) as client:
            barrier.wait()
            statuses[index] = client.request(method, url_for(), json=json).status_code

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_creates_with_one_mrn_make_one_patient(live_server):
    # Given a clinician with a real token
    clinician = UserFactory(role="clinician")
    token = issue_token(clinician)
    body = {"mrn": "RACE-1", "given_name": "Ray", "family_name": "Condition", "date_of_birth": "1980-02-02"}

    # When twenty creates with the same MRN race
    statuses = _race(lambda: f"{live_server.url}/api/v1/patients/", "POST", 20, token=token, json=body)

    # Then exactly one wins and the rest are told of the conflict
    assert statuses == Counter({201: 1, 409: 19})
    assert Patient.objects.filter(mrn="RACE-1").count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_patches_with_one_if_match_let_exactly_one_through(live_server):
    # Given a patient at version 1
    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)
    token = issue_token(clinician)

    # When ten PATCHes carrying If-Match "1" race
    statuses = _race(
        lambda: f"{live_server.url}/api/v1/patients/{patient.pk}/",
        "PATCH",
        10,
        token=token,
        json={"address": "Contended Street 1"},
        headers={"If-Match": '"1"'},
    )

    # Then one succeeds, the others see a stale precondition, and the version moved once
    assert statuses == Counter({200: 1, 412: 9})
    patient.refresh_from_db()
    assert patient.version == 2
