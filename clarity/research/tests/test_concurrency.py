"""Two builds of one dataset started at once: the row lock on the dataset lets exactly one run."""

import threading
import time

import pytest
from django.db import connection

from clarity.audit.services import AuditContext
from clarity.errors import Conflict
from clarity.research import services
from clarity.research.models import DatasetRow, DatasetStatus, ResearchDataset
from clarity.research.tests.test_datasets import marker_patient


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_builds_of_one_dataset_run_exactly_one(admin_user, researcher, monkeypatch):
    for n in range(5):
        marker_patient(n)
    ctx = AuditContext(actor=admin_user)
    dataset = services.dataset_create(
        actor=admin_user,
        data={"name": "n", "purpose": "p", "researchers": [researcher.pk], "interaction_kinds": ["assessment"]},
        ctx=ctx,
    )
    real = services._phase_subjects

    def slow_subjects(*args, **kwargs):
        time.sleep(0.5)  # keep the first build running while the second one asks
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_phase_subjects", slow_subjects)
    barrier = threading.Barrier(2)
    outcomes = []

    def build():
        barrier.wait()
        try:
            services.dataset_build(dataset_id=dataset.pk, actor=admin_user, ctx=AuditContext(actor=admin_user))
            outcomes.append("built")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["built", "conflict"]
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY and dataset.build_number == 1
    assert DatasetRow.objects.filter(dataset=dataset).count() == 5 * 3
    assert ResearchDataset.objects.count() == 1
