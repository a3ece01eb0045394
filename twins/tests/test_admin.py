import pytest
from django.urls import reverse

from twins.tests.factories import TwinRevisionFactory

pytestmark = pytest.mark.django_db


def test_admin_lists_searches_and_opens_digital_twins(admin_client):
    twin = TwinRevisionFactory(twin__name="Mood course").twin

    changelist = admin_client.get(reverse("admin:twins_digitaltwin_changelist"))
    search = admin_client.get(reverse("admin:twins_digitaltwin_changelist"), {"q": "Mood course"})
    by_mrn = admin_client.get(reverse("admin:twins_digitaltwin_changelist"), {"q": twin.patient.mrn})
    change = admin_client.get(reverse("admin:twins_digitaltwin_change", args=[twin.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert by_mrn.status_code == 200 and by_mrn.context["cl"].result_count == 1
    assert change.status_code == 200


def test_admin_lists_searches_and_opens_twin_revisions(admin_client):
    revision = TwinRevisionFactory()

    changelist = admin_client.get(reverse("admin:twins_twinrevision_changelist"))
    search = admin_client.get(reverse("admin:twins_twinrevision_changelist"), {"q": str(revision.twin_id)})
    change = admin_client.get(reverse("admin:twins_twinrevision_change", args=[revision.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert change.status_code == 200


def test_admin_cannot_add_change_or_delete_twin_revisions_even_as_superuser(admin_client):
    revision = TwinRevisionFactory()

    add = admin_client.get(reverse("admin:twins_twinrevision_add"))
    change = admin_client.get(reverse("admin:twins_twinrevision_change", args=[revision.pk]))
    post = admin_client.post(reverse("admin:twins_twinrevision_change", args=[revision.pk]), {"version": 2})
    delete = admin_client.get(reverse("admin:twins_twinrevision_delete", args=[revision.pk]))

    assert add.status_code == 403
    assert b'name="_save"' not in change.content
    assert post.status_code == 403
    assert delete.status_code == 403
