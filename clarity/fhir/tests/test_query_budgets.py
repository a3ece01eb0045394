"""No N+1 in FHIR searches or the research dataset list: the same queries for 5 and 200 results."""

import datetime

import pytest

from clarity.api.tests.helpers import bearer_client, bulk_patients, make_users
from clarity.research.models import ResearchDataset
from interactions.models import InteractionLog

SIZES = (5, 200)


def _count_queries(client, url, key, max_queries, django_assert_max_num_queries, **params):
    counts = {}
    for size in SIZES:
        with django_assert_max_num_queries(max_queries) as captured:
            response = client.get(url, {key: size, **params})
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body.get("entry", body.get("results", []))) == size
        counts[size] = len(captured)
    assert counts[5] == counts[200], counts
    return counts


@pytest.mark.django_db
def test_fhir_patient_search_costs_the_same_queries_for_5_and_200(clinician, django_assert_max_num_queries):
    bulk_patients(205, primary=clinician)
    _count_queries(
        bearer_client(clinician), "/fhir/R4/Patient", "_count", 5, django_assert_max_num_queries, name="Bulk"
    )


@pytest.mark.django_db
def test_fhir_observation_search_costs_the_same_queries_for_5_and_200(clinician, django_assert_max_num_queries):
    patient = bulk_patients(1, primary=clinician)[0]
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    InteractionLog.objects.bulk_create(
        InteractionLog(
            patient=patient,
            kind="assessment",
            payload={"instrument": "PHQ-9", "score": i % 28},
            occurred_at=start + datetime.timedelta(hours=i),
        )
        for i in range(205)
    )
    _count_queries(
        bearer_client(clinician),
        "/fhir/R4/Observation",
        "_count",
        6,
        django_assert_max_num_queries,
        patient=str(patient.pk),
    )


@pytest.mark.django_db
def test_research_dataset_list_costs_the_same_queries_for_5_and_200(admin_user, django_assert_max_num_queries):
    researchers = make_users(2, role="researcher", prefix="res")
    for i in range(205):
        dataset = ResearchDataset.objects.create(name=f"d{i}", purpose="p", created_by=admin_user)
        dataset.researchers.set(researchers)
    client = bearer_client(researchers[0])
    _count_queries(client, "/api/v1/research/datasets/", "page_size", 6, django_assert_max_num_queries)
