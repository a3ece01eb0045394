"""The research API's real responses match the OpenAPI document."""

import pytest

from clarity.api.tests.test_openapi import assert_matches_documented_response, openapi  # noqa: F401 - fixture
from clarity.research.tests.test_datasets import URL, marker_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(client_for, admin_user, researcher, clinician):
    for n in range(5):
        marker_patient(n)
    admin = client_for(admin_user)
    body = {
        "name": "n", "purpose": "p", "researchers": [str(researcher.pk)],
        "cohort": {"kind": "instrument", "value": "PHQ-9"}, "interaction_kinds": ["assessment"],
    }  # fmt: skip
    created = admin.post(URL, body, format="json")
    return {
        "admin": admin,
        "researcher": client_for(researcher),
        "clinician": client_for(clinician),
        "created": created,
        "body": body,
    }


def _id(s):
    return s["created"].json()["id"]


CALLS = {
    "list 200": ("get", URL, lambda s: s["researcher"].get(URL)),
    "list 403": ("get", URL, lambda s: s["clinician"].get(URL)),
    "create 201": ("post", URL, lambda s: s["created"]),
    "create 400": ("post", URL, lambda s: s["admin"].post(URL, {**s["body"], "k": 0}, format="json")),
    "create 403": ("post", URL, lambda s: s["researcher"].post(URL, s["body"], format="json")),
    "retrieve 200": ("get", URL + "{id}/", lambda s: s["researcher"].get(f"{URL}{_id(s)}/")),
    "retrieve 404": (
        "get",
        URL + "{id}/",
        lambda s: s["researcher"].get(f"{URL}00000000-0000-0000-0000-000000000001/"),
    ),
    "build 200": ("post", URL + "{id}/build/", lambda s: s["admin"].post(f"{URL}{_id(s)}/build/", {}, format="json")),
    "build 400": (
        "post",
        URL + "{id}/build/",
        lambda s: s["admin"].post(f"{URL}{_id(s)}/build/", {"x": 1}, format="json"),
    ),
    "download 403": ("get", URL + "{id}/download/", lambda s: s["admin"].get(f"{URL}{_id(s)}/download/")),
    "download 400": ("get", URL + "{id}/download/", lambda s: s["researcher"].get(f"{URL}{_id(s)}/download/?format=x")),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_research_responses_match_the_documented_schema(openapi, scene, call):  # noqa: F811
    method, template, send = CALLS[call]
    response = send(scene)
    assert str(response.status_code) == call.rsplit(" ", 1)[1], response.content
    assert_matches_documented_response(openapi, method, template.replace(URL, "/api/v1/research/datasets/"), response)


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_downloads_are_served_as_documented_media_types(openapi, scene, fmt):  # noqa: F811
    response = scene["researcher"].get(f"{URL}{_id(scene)}/download/", {"format": fmt})
    documented = openapi["paths"]["/api/v1/research/datasets/{id}/download/"]["get"]["responses"]["200"]["content"]
    assert response.status_code == 200 and response["Content-Type"].split(";")[0] in documented
