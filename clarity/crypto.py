"""Field-level encryption of contact PHI (AES-256-GCM) and blind indexes for exact search.

Keys come from the environment, never from SECRET_KEY:

* `PHI_ENCRYPTION_KEYS` — a keyring `kid:base64key,kid:base64key`, newest first. New
  values are encrypted under the first key; any listed key decrypts.
* `PHI_BLIND_INDEX_KEY` — a separate HMAC-SHA256 key for the blind indexes.

Stored form: `enc:v1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The associated data
is `<table>.<column>`, so a ciphertext copied into another column does not decrypt.
"""

import base64
import binascii
import hashlib
import hmac
import os
import re
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:v1:"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class PhiDecryptionError(Exception):
    """A stored ciphertext could not be decrypted (unknown key id or tampered data)."""


def parse_keyring(raw: str) -> list[tuple[str, bytes]]:
    keyring = []
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        kid, sep, encoded = entry.partition(":")
        if not sep or not _KID.match(kid):
            raise ImproperlyConfigured("PHI_ENCRYPTION_KEYS must look like 'kid:base64key,kid:base64key'.")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"PHI_ENCRYPTION_KEYS: key {kid!r} is not base64.") from None
        if len(key) != 32:
            raise ImproperlyConfigured(f"PHI_ENCRYPTION_KEYS: key {kid!r} must be 32 bytes (AES-256).")
        keyring.append((kid, key))
    if not keyring:
        raise ImproperlyConfigured("PHI_ENCRYPTION_KEYS is empty.")
    if len({kid for kid, _ in keyring}) != len(keyring):
        raise ImproperlyConfigured("PHI_ENCRYPTION_KEYS: key ids must be unique.")
    return keyring


@lru_cache(maxsize=4)
def _keyring(raw: str):
    ring = parse_keyring(raw)
    return ring[0][0], {kid: AESGCM(key) for kid, key in ring}


def keyring():
    """(newest key id, {kid: AESGCM})."""
    return _keyring(settings.PHI_ENCRYPTION_KEYS)


def encrypt(plaintext: str, aad: str) -> str:
    kid, ciphers = keyring()
    nonce = os.urandom(12)
    sealed = ciphers[kid].encrypt(nonce, plaintext.encode(), aad.encode())
    return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def key_id_of(stored: str) -> str | None:
    if not stored.startswith(PREFIX):
        return None
    return stored[len(PREFIX) :].split(":", 1)[0]


def decrypt(stored: str, aad: str) -> str:
    if not stored.startswith(PREFIX):
        # Written before encryption was enabled; rotate_phi_keys encrypts it.
        return stored
    try:
        kid, encoded = stored[len(PREFIX) :].split(":", 1)
        cipher = keyring()[1][kid]
        blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return cipher.decrypt(blob[:12], blob[12:], aad.encode()).decode()
    except Exception:  # noqa: BLE001 - never include ciphertext or key material in the error
        raise PhiDecryptionError("a PHI field could not be decrypted (unknown key id or tampered value)") from None


def seal(plaintext: bytes, purpose: str) -> str:
    """
    An opaque, URL-safe token: `plaintext` encrypted and authenticated (AES-256-GCM) under
    the newest PHI key, bound to `purpose` (the associated data), so a token made for one
    use does not open for another. For values handed to clients that must not be readable
    or forgeable by them (pagination cursors).
    """
    kid, ciphers = keyring()
    nonce = os.urandom(12)
    sealed = ciphers[kid].encrypt(nonce, plaintext, f"token:{purpose}".encode())
    return f"{kid}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def unseal(token: str, purpose: str) -> bytes | None:
    """The plaintext of a `seal()` token, or None for anything forged, altered or malformed."""
    kid, sep, encoded = token.partition(".")
    cipher = keyring()[1].get(kid) if sep else None
    if cipher is None:
        return None
    try:
        blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return cipher.decrypt(blob[:12], blob[12:], f"token:{purpose}".encode())
    except Exception:  # noqa: BLE001 - binascii, length and InvalidTag errors all mean "not ours"
        return None


def blind_index(value: str | None, kind: str) -> str | None:
    """HMAC of the normalised value, for exact-match lookups without decrypting."""
    if value is None or value == "":
        return None
    normal = normalise(value, kind)
    return hmac.new(settings.PHI_BLIND_INDEX_KEY, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()


def normalise(value: str, kind: str) -> str:
    if kind == "email":
        return value.strip().lower()
    if kind == "phone":
        return re.sub(r"[\s().-]", "", value.strip())
    return value.strip()


class EncryptedTextField(models.TextField):
    """A text column stored as AES-256-GCM ciphertext; Python code sees plaintext."""

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.aad = f"{cls._meta.db_table}.{self.column}"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return decrypt(value, self.aad)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        if value.startswith(PREFIX):
            return value
        return encrypt(value, self.aad)

    def get_lookup(self, lookup_name):
        # Ciphertexts are randomised: only NULL checks mean anything in SQL.
        if lookup_name not in ("isnull",):
            return None
        return super().get_lookup(lookup_name)


class BlindIndexField(models.CharField):
    """The keyed HMAC of another field's normalised value, kept in step on every save."""

    def __init__(self, *args, source: str = "", kind: str = "", **kwargs):
        self.source = source
        self.kind = kind
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["kind"] = self.kind
        for key in ("max_length", "null", "blank", "editable", "db_index"):
            kwargs.pop(key, None)
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = blind_index(getattr(model_instance, self.source), self.kind)
        setattr(model_instance, self.attname, value)
        return value
