import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clarity.users.models import ApiToken, LoginFailure, hash_token
from clarity.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_admin_user_fixture_is_an_admin_role_superuser(admin_user):
    assert (admin_user.role, admin_user.is_staff, admin_user.is_superuser) == ("admin", True, True)


def test_admin_lists_searches_and_opens_users(admin_client):
    user = UserFactory(username="grace", role="clinician")

    changelist = admin_client.get(reverse("admin:users_user_changelist"))
    search = admin_client.get(reverse("admin:users_user_changelist"), {"q": "grace"})
    change = admin_client.get(reverse("admin:users_user_change", args=[user.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and list(search.context["cl"].result_list) == [user]
    assert change.status_code == 200


def test_admin_lists_searches_and_opens_api_tokens(admin_client):
    user = UserFactory(username="grace")
    token = ApiToken.objects.create(
        user=user, key_hash=hash_token("raw"), expires_at=timezone.now() + datetime.timedelta(hours=1)
    )

    changelist = admin_client.get(reverse("admin:users_apitoken_changelist"))
    search = admin_client.get(reverse("admin:users_apitoken_changelist"), {"q": "grace"})
    change = admin_client.get(reverse("admin:users_apitoken_change", args=[token.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert change.status_code == 200
    assert hash_token("raw").encode() not in change.content


def test_admin_lists_searches_and_opens_login_failures(admin_client):
    failure = LoginFailure.objects.create(username="grace", ip="10.0.0.1")

    changelist = admin_client.get(reverse("admin:users_loginfailure_changelist"))
    search = admin_client.get(reverse("admin:users_loginfailure_changelist"), {"q": "grace"})
    change = admin_client.get(reverse("admin:users_loginfailure_change", args=[failure.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert change.status_code == 200
