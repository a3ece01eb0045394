import pytest
from django.db import IntegrityError, transaction

from clarity.users.models import User
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
