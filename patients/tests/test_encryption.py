"""Contact PHI is encrypted at rest, searchable exactly through blind indexes, and rotatable."""

import base64
import datetime
import os

import pytest
from django.core.management import call_command
from django.db import connection

from clarity import crypto
from patients.models import Patient

EMAIL, PHONE, ADDRESS = "rosalind.secret@example.org", "+14155550199", "12 Hidden Lane, Springfield"


def _key():
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _raw(patient):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT email, phone, address FROM patients_patient WHERE id = %s",
            [patient.pk.hex if connection.vendor == "sqlite" else patient.pk],
        )
        return cursor.fetchone()


@pytest.fixture
def patient(db):
    return Patient.objects.create(
        mrn="ENC-1",
        given_name="Rosalind",
        family_name="Secret",
        date_of_birth=datetime.date(1985, 3, 3),
        email=EMAIL,
        phone=PHONE,
        address=ADDRESS,
    )


def test_the_raw_columns_hold_no_plaintext(patient):
    raw = _raw(patient)
    for stored, plain in zip(raw, (EMAIL, PHONE, ADDRESS), strict=True):
        assert stored.startswith("enc:v1:")
        assert plain not in stored and plain.split("@")[0] not in stored
    fresh = Patient.objects.get(pk=patient.pk)
    assert (fresh.email, fresh.phone, fresh.address) == (EMAIL, PHONE, ADDRESS)


def test_a_ciphertext_moved_to_another_column_does_not_decrypt(patient):
    stored_email = _raw(patient)[0]
    with pytest.raises(crypto.PhiDecryptionError):
        crypto.decrypt(stored_email, "patients_patient.address")


def test_search_by_email_or_phone_uses_the_blind_index(patient, admin_user, client_for):
    client = client_for(admin_user)
    for term in (EMAIL.upper(), PHONE):
        results = client.get("/api/v1/patients/", {"search": term}).json()["results"]
        assert [r["id"] for r in results] == [str(patient.pk)]
    assert client.get("/api/v1/patients/", {"search": "nobody@example.org"}).json()["results"] == []


def test_rotate_phi_keys_re_encrypts_under_the_newest_key_and_old_keys_can_go(patient, settings):
    old_ring = settings.PHI_ENCRYPTION_KEYS
    new = f"new1:{_key()}"
    settings.PHI_ENCRYPTION_KEYS = f"{new},{old_ring}"
    assert crypto.key_id_of(_raw(patient)[0]) != "new1"
    call_command("rotate_phi_keys", batch_size=1)
    assert all(crypto.key_id_of(value) == "new1" for value in _raw(patient))
    call_command("rotate_phi_keys")  # resumable: a second run finds nothing to do
    settings.PHI_ENCRYPTION_KEYS = new
    fresh = Patient.objects.get(pk=patient.pk)
    assert (fresh.email, fresh.phone, fresh.address) == (EMAIL, PHONE, ADDRESS)


def test_a_bad_keyring_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    for bad in ("", "nokey", "k1:" + base64.urlsafe_b64encode(b"short").decode(), f"k1:{_key()},k1:{_key()}"):
        with pytest.raises(ImproperlyConfigured):
            crypto.parse_keyring(bad)
