"""A newcomer's first requests: `/` leads to the docs, `/api/v1/` lists the resources, and the
docs page offers the one auth scheme a browser user can use there and keeps it across reloads."""

import json
import re

import pytest
from rest_framework.test import APIClient

from clarity.api.tests.test_openapi import assert_matches_documented_response, openapi  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_the_root_redirects_to_the_api_docs():
    response = APIClient().get("/")

    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"


def test_the_api_root_answers_an_index_of_resources_as_documented(openapi):  # noqa: F811
    response = APIClient().get("/api/v1/")

    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["docs"] == "/api/docs/" and body["schema"] == "/api/schema/"
    assert body["resources"]["patients"] == "/api/v1/patients/"
    assert body["resources"]["auth_token"] == "/api/v1/auth/token/"
    for path in body["resources"].values():
        assert path in openapi["paths"]
    assert_matches_documented_response(openapi, "get", "/api/v1/", response)


def test_the_docs_document_only_the_bearer_scheme(openapi):  # noqa: F811
    assert set(openapi["components"]["securitySchemes"]) == {"bearerAuth"}
    for path in openapi["paths"].values():
        for operation in path.values():
            for requirement in operation.get("security", []):
                assert set(requirement) <= {"bearerAuth"}


def test_the_docs_keep_the_authorization_across_reloads():
    page = APIClient().get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?script=[^"]*)"', page)
    assert script, page[:2000]

    init = APIClient().get(script.group(1).replace("&amp;", "&")).content.decode()

    assert '"persistAuthorization": true' in init
