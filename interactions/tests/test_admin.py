import pytest
from django.urls import reverse

from clarity.users.tests.factories import UserFactory
from interactions.models import IdempotencyRecord
from interactions.tests.factories import InteractionLogFactory

pytestmark = pytest.mark.django_db


def test_admin_lists_searches_and_opens_interaction_log_entries(admin_client):
    log = InteractionLogFactory()

    changelist = admin_client.get(reverse("admin:interactions_interactionlog_changelist"))
    by_mrn = admin_client.get(reverse("admin:interactions_interactionlog_changelist"), {"q": log.patient.mrn})
    by_patient = admin_client.get(reverse("admin:interactions_interactionlog_changelist"), {"q": str(log.patient_id)})
    change = admin_client.get(reverse("admin:interactions_interactionlog_change", args=[log.pk]))

    assert changelist.status_code == 200
    assert by_mrn.status_code == 200 and list(by_mrn.context["cl"].result_list) == [log]
    assert by_patient.status_code == 200 and list(by_patient.context["cl"].result_list) == [log]
    assert change.status_code == 200


def test_admin_cannot_add_change_or_delete_interaction_log_entries_even_as_superuser(admin_client):
    log = InteractionLogFactory()

    add = admin_client.get(reverse("admin:interactions_interactionlog_add"))
    change = admin_client.get(reverse("admin:interactions_interactionlog_change", args=[log.pk]))
    post = admin_client.post(reverse("admin:interactions_interactionlog_change", args=[log.pk]), {"kind": "alert"})
    delete = admin_client.get(reverse("admin:interactions_interactionlog_delete", args=[log.pk]))

    assert add.status_code == 403
    assert b'name="_save"' not in change.content
    assert post.status_code == 403
    assert delete.status_code == 403


def test_admin_lists_searches_and_opens_idempotency_records(admin_client):
    record = IdempotencyRecord.objects.create(
        actor=UserFactory(), key="abc", request_fingerprint="f" * 64, response_status=201, response_body={"id": 1}
    )

    changelist = admin_client.get(reverse("admin:interactions_idempotencyrecord_changelist"))
    search = admin_client.get(reverse("admin:interactions_idempotencyrecord_changelist"), {"q": "abc"})
    change = admin_client.get(reverse("admin:interactions_idempotencyrecord_change", args=[record.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert change.status_code == 200
