"""Real parallel requests against a live server (PostgreSQL only: row locks, TRUNCATE flush)."""

import datetime
import threading

import httpx
import pytest
from django.utils import timezone

from clarity.users.models import ApiToken, hash_token
from clarity.users.tests.factories import UserFactory
from patients.tests.factories import make_patient
from twins.models import DigitalTwin, TwinRevision
from twins.tests.factories import make_twin

PARALLEL = 10


def _bearer(user) -> str:
    raw = ApiToken.generate_raw()
    ApiToken.objects.create(
        user=user, key_hash=hash_token(raw), expires_at=timezone.now() + datetime.timedelta(hours=1)
    )
    return f"Bearer {raw}"


def _in_parallel(send):
    """Run `send(i)` in PARALLEL threads released together; return their results."""
    barrier = threading.Barrier(PARALLEL)
    results = [None] * PARALLEL

    def worker(index):
        barrier.wait()
        results[index] = send(index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_patches_with_the_same_if_match_let_exactly_one_win(live_server):
    clinician = UserFactory(role="clinician")
    twin = make_twin(make_patient(primary=clinician))
    headers = {"Authorization": _bearer(clinician), "If-Match": '"1"'}
    url = f"{live_server.url}/api/v1/twins/{twin.pk}/"

    def send(index):
        with httpx.Client(timeout=30) as client:
            body = {"configuration": {"simulation_granularity_hours": index + 1}}
            return client.patch(url, json=body, headers=headers).status_code

    statuses = _in_parallel(send)

    assert sorted(statuses) == [200] + [412] * (PARALLEL - 1)
    twin.refresh_from_db()
    assert twin.version == 2
    assert list(TwinRevision.objects.filter(twin=twin).order_by("version").values_list("version", flat=True)) == [1, 2]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_creates_of_one_twin_type_make_exactly_one_twin(live_server):
    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)
    headers = {"Authorization": _bearer(clinician)}
    url = f"{live_server.url}/api/v1/patients/{patient.pk}/twins/"

    def send(index):
        with httpx.Client(timeout=30) as client:
            return client.post(
                url, json={"name": f"Twin {index}", "twin_type": "integrated"}, headers=headers
            ).status_code

    statuses = _in_parallel(send)

    assert sorted(statuses) == [201] + [409] * (PARALLEL - 1)
    assert DigitalTwin.objects.filter(patient=patient).count() == 1
    assert TwinRevision.objects.filter(twin__patient=patient).count() == 1
