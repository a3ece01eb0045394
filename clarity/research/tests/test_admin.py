import pytest
from django.urls import NoReverseMatch, reverse

from clarity.audit.models import AuditEvent
from clarity.research import services
from clarity.research.models import ResearchDataset
from clarity.research.tests.test_datasets import marker_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(admin_user, researcher):
    for n in range(5):
        marker_patient(n)
    ctx = services.AuditContext(actor=admin_user)
    made = services.dataset_create(
        actor=admin_user,
        data={
            "name": "Mood study",
            "purpose": "p",
            "researchers": [researcher.pk],
            "interaction_kinds": ["assessment"],
        },
        ctx=ctx,
    )
    return services.dataset_build(dataset_id=made.pk, actor=admin_user, ctx=ctx)


def test_admin_lists_searches_and_opens_datasets_with_manifest_and_build_log(admin_client, dataset):
    changelist = admin_client.get(reverse("admin:research_researchdataset_changelist"))
    search = admin_client.get(reverse("admin:research_researchdataset_changelist"), {"q": "Mood"})
    change = admin_client.get(reverse("admin:research_researchdataset_change", args=[dataset.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert change.status_code == 200
    page = change.content.decode()
    assert "suppressed_rows" in page and "k-anonymity (k=5)" in page and "ready: build 1" in page
    assert AuditEvent.objects.filter(
        action="read", resource_type="research_dataset", resource_id=str(dataset.pk)
    ).exists()


def test_admin_shows_no_rows_and_no_pseudonym_links(admin_client, dataset):
    page = admin_client.get(reverse("admin:research_researchdataset_change", args=[dataset.pk])).content.decode()
    for pseudonym in dataset.subjects.values_list("pseudonym", flat=True):
        assert pseudonym not in page
    for name in ("research_datasetrow_changelist", "research_datasetsubject_changelist"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:{name}")


def test_admin_cannot_add_change_or_delete_datasets(admin_client, dataset):
    assert admin_client.get(reverse("admin:research_researchdataset_add")).status_code == 403
    post = admin_client.post(reverse("admin:research_researchdataset_change", args=[dataset.pk]), {"name": "x"})
    assert post.status_code == 403
    assert admin_client.post(reverse("admin:research_researchdataset_delete", args=[dataset.pk])).status_code == 403
    assert ResearchDataset.objects.get(pk=dataset.pk).name == "Mood study"


def test_the_build_command_rebuilds_and_is_audited(admin_user, dataset):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("build_research_dataset", str(dataset.pk), "--actor", admin_user.username, stdout=out)
    assert "build 2: 5 patients, 15 rows" in out.getvalue()
    assert (
        AuditEvent.objects.filter(
            action="export", resource_id=str(dataset.pk), user_agent__contains="manage.py"
        ).count()
        == 1
    )
    with pytest.raises(CommandError, match="no interrupted build"):
        call_command("build_research_dataset", str(dataset.pk), "--actor", admin_user.username, "--resume")
    with pytest.raises(CommandError, match="admin"):
        call_command("build_research_dataset", str(dataset.pk), "--actor", "nobody")
