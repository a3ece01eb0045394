"""The OpenAPI document is valid, and real responses match what it documents."""

import io
import json
import re
from pathlib import Path

import drf_spectacular
import jsonschema
import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient

from clarity.api.tests.helpers import bearer_client
from patients.tests.factories import make_patient

META_SCHEMA = Path(drf_spectacular.__file__).parent / "validation" / "openapi_3_0_schema.json"


@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _to_json_schema(node, components, seen=()):
    """An OpenAPI 3.0 schema object as plain JSON Schema: $refs inlined, `nullable` as a null branch,
    and objects closed (a response field the document does not list is a mismatch too)."""
    if isinstance(node, list):
        return [_to_json_schema(item, components, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        assert name not in seen, f"recursive schema {name}"
        return _to_json_schema(components[name], components, (*seen, name))
    out = {
        key: _to_json_schema(value, components, seen)
        for key, value in node.items()
        if key not in ("nullable", "readOnly", "writeOnly")
    }
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def assert_matches_documented_response(openapi, method, template, response):
    """The response's status is documented for the operation and its body fits the schema."""
    operation = openapi["paths"][template][method]
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {template} does not document {status}: {sorted(documented)}"
    content = documented[status].get("content")
    if response.status_code == 204 or not content:
        assert response.content == b""
        return
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in content, f"{status} documented as {sorted(content)}, served as {media_type}"
    schema = _to_json_schema(content[media_type]["schema"], openapi["components"]["schemas"])
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(json.loads(response.content)), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    for header in documented[status].get("headers", {}):
        assert header in response, f"{status} documents header {header}"


def test_the_schema_is_valid_openapi_3(openapi):
    meta = json.loads(META_SCHEMA.read_text())

    jsonschema.Draft4Validator(meta).validate(openapi)

    assert openapi["openapi"].startswith("3.0")


def test_spectacular_validates_the_schema_without_warnings(db):
    out = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)

    assert json.loads(out.getvalue())["paths"]


def test_the_schema_documents_every_v1_endpoint(openapi):
    assert set(openapi["paths"]) >= {
        "/api/v1/auth/token/",
        "/api/v1/auth/logout/",
        "/api/v1/users/",
        "/api/v1/users/me/",
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/patients/{id}/care-team/",
        "/api/v1/patients/{id}/care-team/{clinician_id}/",
        "/api/v1/patients/{id}/break-glass/",
        "/api/v1/audit-events/",
    }
    assert openapi["paths"]["/api/v1/patients/"]["post"]["responses"].keys() >= {"201", "400", "401", "403", "409"}
    # Lists are documented as pages of items, not single objects.
    page = openapi["components"]["schemas"]["PaginatedPatientList"]
    assert page["properties"]["results"]["type"] == "array"


def test_the_schema_needs_no_authentication(db):
    assert APIClient().get("/api/schema/").status_code == 200


@pytest.fixture
def scene(admin_user, clinician, other_clinician):
    patient = make_patient(primary=clinician, consulting=[other_clinician])
    return {
        "patient": patient,
        "doctor": bearer_client(clinician),
        "admin": bearer_client(admin_user),
        "clinician": clinician,
    }


NEW = {"mrn": "OAS-1", "given_name": "Open", "family_name": "Api", "date_of_birth": "1990-01-01"}

# name: (method, template, request(scene) -> response)
CALLS = {
    "patients list 200": ("get", "/api/v1/patients/", lambda s: s["doctor"].get("/api/v1/patients/", {"page_size": 1})),
    "patients create 201": (
        "post",
        "/api/v1/patients/",
        lambda s: s["doctor"].post("/api/v1/patients/", NEW, format="json"),
    ),
    "patients create 400": (
        "post",
        "/api/v1/patients/",
        lambda s: s["doctor"].post("/api/v1/patients/", {**NEW, "sex": "x"}, format="json"),
    ),
    "patients create 409": (
        "post",
        "/api/v1/patients/",
        lambda s: s["doctor"].post("/api/v1/patients/", {**NEW, "mrn": s["patient"].mrn}, format="json"),
    ),
    "patients create 415": (
        "post",
        "/api/v1/patients/",
        lambda s: s["doctor"].generic("POST", "/api/v1/patients/", b"x", content_type="text/plain"),
    ),
    "patients list 401": ("get", "/api/v1/patients/", lambda s: APIClient().get("/api/v1/patients/")),
    "patient read 200": (
        "get",
        "/api/v1/patients/{id}/",
        lambda s: s["doctor"].get(f"/api/v1/patients/{s['patient'].pk}/"),
    ),
    "patient read 404": (
        "get",
        "/api/v1/patients/{id}/",
        lambda s: s["doctor"].get("/api/v1/patients/6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d/"),
    ),
    "patient patch 200": (
        "patch",
        "/api/v1/patients/{id}/",
        lambda s: s["doctor"].patch(f"/api/v1/patients/{s['patient'].pk}/", {"address": None}, format="json"),
    ),
    "patient patch 412": (
        "patch",
        "/api/v1/patients/{id}/",
        lambda s: s["doctor"].patch(
            f"/api/v1/patients/{s['patient'].pk}/", {"address": "A"}, format="json", HTTP_IF_MATCH='"7"'
        ),
    ),
    "patient delete 204": (
        "delete",
        "/api/v1/patients/{id}/",
        lambda s: s["doctor"].delete(f"/api/v1/patients/{s['patient'].pk}/"),
    ),
    "care team list 200": (
        "get",
        "/api/v1/patients/{id}/care-team/",
        lambda s: s["doctor"].get(f"/api/v1/patients/{s['patient'].pk}/care-team/"),
    ),
    "care team remove 409": (
        "delete",
        "/api/v1/patients/{id}/care-team/{clinician_id}/",
        lambda s: s["doctor"].delete(f"/api/v1/patients/{s['patient'].pk}/care-team/{s['clinician'].pk}/"),
    ),
    "break glass 409": (
        "post",
        "/api/v1/patients/{id}/break-glass/",
        lambda s: s["doctor"].post(
            f"/api/v1/patients/{s['patient'].pk}/break-glass/", {"reason": "x" * 30}, format="json"
        ),
    ),
    "audit events 200": ("get", "/api/v1/audit-events/", lambda s: s["admin"].get("/api/v1/audit-events/")),
    "audit events 403": ("get", "/api/v1/audit-events/", lambda s: s["doctor"].get("/api/v1/audit-events/")),
    "users list 200": ("get", "/api/v1/users/", lambda s: s["admin"].get("/api/v1/users/")),
    "users me 200": ("get", "/api/v1/users/me/", lambda s: s["doctor"].get("/api/v1/users/me/")),
    "token 200": (
        "post",
        "/api/v1/auth/token/",
        lambda s: APIClient().post(
            "/api/v1/auth/token/",
            {"username": s["clinician"].username, "password": "correct horse battery staple 42"},
            format="json",
        ),
    ),
    "token 401": (
        "post",
        "/api/v1/auth/token/",
        lambda s: APIClient().post("/api/v1/auth/token/", {"username": "nobody", "password": "nothing"}, format="json"),
    ),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_real_responses_match_the_documented_schema(openapi, scene, call):
    method, template, send = CALLS[call]

    response = send(scene)

    assert str(response.status_code) == call.rsplit(" ", 1)[1], response.content
    assert_matches_documented_response(openapi, method, template, response)


def test_the_docs_page_is_html_served_without_a_cdn(db):
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for cdn in ("cdn.", "unpkg", "jsdelivr", "cdnjs", "googleapis"):
        assert cdn not in html
    # Every asset it loads is a local static file.
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset
