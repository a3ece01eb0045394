"""Exports cannot starve the API: a bounded number stream at once (per worker and per
caller, 429 + Retry-After beyond), and a long export is the log as of its start, read in
keyset pages (new interactions written meanwhile do not appear, none is repeated or lost).
The production-server proof (slow readers, pool, send timeout) is in
clarity/tests/reliability/test_export_isolation.py."""

import datetime
import json

import pytest
from django.test import override_settings

from clarity.users.tests.factories import UserFactory
from patients.tests.factories import make_patient

from ..export import ROWS_PER_CHUNK, SLOTS
from .helpers import BASE_TIME, insert_interactions_fast, make_interactions

pytestmark = pytest.mark.django_db


def url(patient):
    return f"/api/v1/patients/{patient.pk}/export/"


@pytest.fixture(autouse=True)
def _fresh_slots():
    # A test elsewhere that drops a streaming response unread leaves its slot taken (a
    # server always reads or closes it); start from none.
    with SLOTS.lock:
        SLOTS.total = 0
        SLOTS.by_caller.clear()


def finish(response):
    """Read the stream to its end, as a server does: the export gives its slot back.
    (Not response.close(): outside a server it fires request_finished, which closes the
    test's database connection inside its transaction.)"""
    return json.loads(b"".join(response.streaming_content))


def test_a_caller_gets_429_with_retry_after_beyond_two_exports_at_once(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)

    streaming = [client.get(url(patient)), client.get(url(patient))]  # started, not yet read
    third = client.get(url(patient))

    assert [r.status_code for r in streaming] == [200, 200]
    assert third.status_code == 429
    assert third["Content-Type"] == "application/problem+json"
    assert int(third["Retry-After"]) > 0
    # When one stream ends, the caller may start another.
    finish(streaming[0])
    again = client.get(url(patient))
    assert again.status_code == 200
    finish(streaming[1])
    finish(again)
    assert SLOTS.total == 0


def test_the_worker_refuses_exports_beyond_its_limit_whoever_asks(clinician, client_for):
    patient = make_patient(primary=clinician)
    callers = [UserFactory(role="admin", is_staff=True) for _ in range(3)]

    with override_settings(EXPORT_MAX_PER_WORKER=2):
        first, second = (client_for(user).get(url(patient)) for user in callers[:2])
        third = client_for(callers[2]).get(url(patient))

        assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
        finish(first)  # read to the end: the slot is given back
        later = client_for(callers[2]).get(url(patient))
        assert later.status_code == 200
    finish(second)
    finish(later)
    assert SLOTS.total == 0


def test_a_refused_export_is_not_audited_and_a_failed_one_gives_its_slot_back(clinician, other_clinician, client_for):
    patient = make_patient(primary=clinician)

    for _ in range(3):  # more than the per-caller limit, all refused for access
        assert client_for(other_clinician).get(url(patient)).status_code == 404
    assert SLOTS.total == 0


def test_an_export_is_the_log_as_of_its_start_read_in_keyset_pages(clinician, client_for):
    # Given more than two pages of interactions, several sharing a timestamp across a page boundary
    patient = make_patient(primary=clinician)
    insert_interactions_fast(patient, 2 * ROWS_PER_CHUNK + 500)
    same_time = BASE_TIME + datetime.timedelta(seconds=ROWS_PER_CHUNK + 500)  # newest-first, ~ the first boundary
    make_interactions(patient, 5, start=same_time, step_seconds=0)
    response = client_for(clinician).get(url(patient))
    chunks = iter(response.streaming_content)
    first = next(chunks) + next(chunks)  # the head and the first page

    # When interactions are written while the export streams (newer and older than anything read)
    make_interactions(patient, 3, start=BASE_TIME + datetime.timedelta(days=400))
    make_interactions(patient, 3, start=BASE_TIME - datetime.timedelta(days=400))
    document = json.loads(first + b"".join(chunks))

    # Then the document holds exactly the rows that existed when it started, each once, newest first
    ids = [item["id"] for item in document["interactions"]]
    assert len(ids) == len(set(ids)) == 2 * ROWS_PER_CHUNK + 505
    keys = [(item["occurred_at"], item["id"]) for item in document["interactions"]]
    assert keys == sorted(keys, reverse=True)
