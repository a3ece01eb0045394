from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clarity.users.models import ApiToken, User, hash_token
from clarity.users.tests.factories import UserFactory


@pytest.mark.django_db
def test_usernames_are_unique_case_insensitively_in_the_database():
    UserFactory(username="Alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="alice", email="other@example.org", role="clinician")


@pytest.mark.django_db
def test_emails_are_unique_case_insensitively_in_the_database():
    UserFactory(email="Alice@Example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="someone", email="alice@example.ORG", role="clinician")


@pytest.mark.django_db
def test_role_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="x", email="x@example.org", role="superhero")


@pytest.mark.django_db
def test_empty_email_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="users_user_email_required"), transaction.atomic():
        User.objects.create(username="x", email="", role="clinician")


@pytest.mark.django_db
def test_empty_username_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="users_user_username_required"), transaction.atomic():
        User.objects.create(username="", email="x@example.org", role="clinician")


@pytest.mark.django_db
def test_full_clean_reports_a_username_differing_only_in_case():
    UserFactory(username="Alice")
    with pytest.raises(ValidationError) as excinfo:
        UserFactory.build(username="ALİCE".replace("İ", "I"), email="other@example.org").full_clean()
    assert "username" in excinfo.value.message_dict


@pytest.mark.django_db
def test_full_clean_reports_an_email_differing_only_in_case():
    UserFactory(email="Alice@Example.org")
    with pytest.raises(ValidationError, match="users_user_email_ci_unique"):
        UserFactory.build(email="alice@example.ORG").full_clean()


@pytest.mark.django_db
def test_full_clean_reports_a_role_outside_the_set():
    with pytest.raises(ValidationError) as excinfo:
        UserFactory.build(role="superhero").full_clean()
    assert "role" in excinfo.value.message_dict


@pytest.mark.django_db
def test_full_clean_reports_a_missing_email_and_username():
    with pytest.raises(ValidationError) as excinfo:
        User(username="", email="", role="clinician", password="!").full_clean()
    assert {"username", "email"} <= excinfo.value.message_dict.keys()


# --- API tokens ----------------------------------------------------------------------------


def token_row(user, **overrides):
    now = timezone.now()
    return {
        "user": user,
        "key_hash": hash_token("raw"),
        "created_at": now,
        "expires_at": now + timedelta(hours=1),
        **overrides,
    }


@pytest.mark.django_db
def test_a_duplicate_token_hash_is_refused_by_the_database():
    user = UserFactory()
    ApiToken.objects.create(**token_row(user))
    with (
        pytest.raises(IntegrityError, match=r"users_apitoken_key_hash_unique|users_apitoken\.key_hash"),
        transaction.atomic(),
    ):
        ApiToken.objects.create(**token_row(user))


@pytest.mark.django_db
def test_a_token_expiring_before_it_is_created_is_refused_by_the_database():
    now = timezone.now()
    with pytest.raises(IntegrityError, match="users_apitoken_expires_after_created"), transaction.atomic():
        ApiToken.objects.create(**token_row(UserFactory(), created_at=now, expires_at=now))


@pytest.mark.django_db
def test_full_clean_reports_token_hash_and_expiry_violations():
    user = UserFactory()
    ApiToken.objects.create(**token_row(user))
    now = timezone.now()
    with pytest.raises(ValidationError) as excinfo:
        ApiToken(**token_row(user, created_at=now, expires_at=now)).full_clean()
    assert "users_apitoken_expires_after_created" in str(excinfo.value)
    assert "key_hash" in str(excinfo.value)
