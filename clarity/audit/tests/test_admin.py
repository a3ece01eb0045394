import uuid

import pytest
from django.urls import reverse

from clarity.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_admin_lists_searches_and_opens_audit_events(admin_client):
    audit_event = AuditEvent.objects.create(
        action="read", resource_type="patient", resource_id="p-1", patient_id=uuid.uuid4(), actor_username="alice"
    )

    changelist = admin_client.get(reverse("admin:audit_auditevent_changelist"))
    by_actor = admin_client.get(reverse("admin:audit_auditevent_changelist"), {"q": "alice"})
    by_patient = admin_client.get(reverse("admin:audit_auditevent_changelist"), {"q": str(audit_event.patient_id)})
    change = admin_client.get(reverse("admin:audit_auditevent_change", args=[audit_event.pk]))

    assert changelist.status_code == 200
    assert by_actor.status_code == 200 and list(by_actor.context["cl"].result_list) == [audit_event]
    assert by_patient.status_code == 200 and list(by_patient.context["cl"].result_list) == [audit_event]
    assert change.status_code == 200


def test_admin_cannot_add_change_or_delete_audit_events_even_as_superuser(admin_client):
    audit_event = AuditEvent.objects.create(action="read", resource_type="patient")

    add = admin_client.get(reverse("admin:audit_auditevent_add"))
    change = admin_client.get(reverse("admin:audit_auditevent_change", args=[audit_event.pk]))
    post = admin_client.post(reverse("admin:audit_auditevent_change", args=[audit_event.pk]), {"action": "delete"})
    delete = admin_client.get(reverse("admin:audit_auditevent_delete", args=[audit_event.pk]))

    assert add.status_code == 403
    assert b'name="_save"' not in change.content
    assert post.status_code == 403
    assert delete.status_code == 403
