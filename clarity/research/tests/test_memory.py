"""Bounded memory: building and downloading a dataset four times larger does not take more memory.

Peak Python allocations (tracemalloc) are measured while building and while reading the
whole download; with rows fetched through a cursor and written in fixed-size chunks the
peak stays flat as the dataset grows. Materialising the rows would grow it ~4x.
"""

import datetime
import tracemalloc

import pytest

from clarity.audit.services import AuditContext
from clarity.research import services
from clarity.research.selectors import dataset_for
from interactions.models import InteractionLog
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def _seed(patients, rows_per_patient):
    for patient in patients:
        InteractionLog.objects.bulk_create(
            InteractionLog(
                patient=patient,
                kind="assessment",
                payload={"instrument": "GAD-7", "score": i % 22},
                occurred_at=START + datetime.timedelta(minutes=i),
            )
            for i in range(rows_per_patient)
        )


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _build_and_download(admin_user, researcher, client_for):
    ctx = AuditContext(actor=admin_user)
    dataset = services.dataset_create(
        actor=admin_user,
        data={"name": "m", "purpose": "p", "researchers": [researcher.pk], "interaction_kinds": ["assessment"]},
        ctx=ctx,
    )
    build_peak = _peak(lambda: services.dataset_build(dataset_id=dataset.pk, actor=admin_user, ctx=ctx))
    client = client_for(researcher)
    received = []

    def download():
        response = client.get(f"/api/v1/research/datasets/{dataset.pk}/download/")
        for chunk in response.streaming_content:
            received.append(len(chunk))

    download()  # warm-up: first-use imports and caches are not the download's memory
    received.clear()
    download_peak = _peak(download)
    rows = dataset_for(researcher, dataset.pk).manifest["counts"]["rows"]
    return build_peak, download_peak, rows, sum(received)


def test_build_and_download_memory_stays_flat_as_the_dataset_grows(admin_user, researcher, client_for):
    patients = [PatientFactory(date_of_birth=datetime.date(1960, 1, 1), sex="male") for _ in range(5)]
    _seed(patients, 1500)
    small_build, small_download, small_rows, small_bytes = _build_and_download(admin_user, researcher, client_for)
    _seed(patients, 4500)  # four times the rows
    large_build, large_download, large_rows, large_bytes = _build_and_download(admin_user, researcher, client_for)

    assert large_rows > 3.9 * small_rows and large_bytes > 3.9 * small_bytes
    assert large_build < 1.5 * small_build, (small_build, large_build)
    assert large_download < 1.5 * small_download, (small_download, large_download)
