import hashlib
import secrets
import unicodedata
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    CLINICIAN = "clinician", "Clinician"
    PATIENT = "patient", "Patient"
    RESEARCHER = "researcher", "Researcher"


def canonical_username(value: str) -> str:
    """
    The one form of a username that is stored, compared and counted for lockout: NFKC,
    Unicode case-folded, NFKC again (folding can undo normalisation), no outer whitespace.
    `ſec-clinic`, `SEC-CLINIC` and `sec-clinic` are one account; the Kelvin sign is `k`.
    Comparisons are exact on this form, never the database's own case folding (PostgreSQL's
    UPPER() folds `ı` and `ſ` to ASCII where Python does not, which once let a variant
    spelling log in with its own, fresh lockout counter).
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold()).strip()


class ClarityUserManager(UserManager):
    def get_by_natural_key(self, username):
        return self.get(username=canonical_username(username))

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """
    A person who signs in to Clarity: an admin, a clinician, a patient reading their own
    record, or a researcher. The role decides what they may see (docs/domain.md); `is_staff`
    only opens the Django admin and is given to admins.

    Ids are UUIDs so that nothing touching PHI has an enumerable identifier.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLINICIAN)

    objects = ClarityUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = "user"
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="users_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="users_user_email_ci_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="users_user_role_valid"),
            models.CheckConstraint(condition=~models.Q(email=""), name="users_user_email_required"),
            models.CheckConstraint(condition=~models.Q(username=""), name="users_user_username_required"),
        ]

    def __str__(self):
        return self.username

    @classmethod
    def normalize_username(cls, username):
        # Django calls this from create_user/createsuperuser and the admin forms' clean().
        return canonical_username(username) if isinstance(username, str) else username

    def save(self, *args, **kwargs):
        # Whatever the caller (ORM, factories, fixtures), only the canonical form is stored.
        self.username = self.normalize_username(self.username)
        super().save(*args, **kwargs)

    def validate_username(self):
        """
        Length and characters checked on the stored (canonical) form, not the typed one:
        NFKC can lengthen a name past 150 or turn a ligature into words with spaces.
        """
        try:
            self._meta.get_field("username").run_validators(self.username)
        except ValidationError as exc:
            raise ValidationError({"username": exc.messages}) from None

    def clean(self):
        super().clean()  # canonicalises the username (normalize_username)
        self.validate_username()
        if self.email:
            self.email = self.email.strip()

    # The one comparison of a user's role (clarity/tests/test_architecture.py): code asks
    # these, and which roles may use an endpoint is clarity/users/policy.py.
    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)

    @property
    def is_clinician(self) -> bool:
        return self.has_role(Role.CLINICIAN)

    @property
    def is_patient(self) -> bool:
        return self.has_role(Role.PATIENT)

    @property
    def is_researcher(self) -> bool:
        return self.has_role(Role.RESEARCHER)

    def grant_admin_site_by_role(self) -> None:
        """
        docs/domain.md (Roles and access): the admin role sees everything and is staff; in
        the Django admin that is every model permission, so admins are superusers. Other
        roles are neither.
        """
        self.is_staff = self.is_superuser = self.is_admin


def hash_token(raw: str) -> str:
    """Tokens have 256 bits of entropy, so an unsalted SHA-256 is enough to store them."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """
    A bearer token for the API. Only its SHA-256 is stored; the raw value is shown once
    when it is issued. A token stops working when it expires or is revoked (logout).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Tokens are credentials, not PHI history: they go with their user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["key_hash"], name="users_apitoken_key_hash_unique"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="users_apitoken_expires_after_created"
            ),
        ]

    def __str__(self):
        return f"token {self.id}"

    @staticmethod
    def generate_raw() -> str:
        return secrets.token_urlsafe(32)


class LoginFailure(models.Model):
    """
    One sign-in attempt that was not (yet) a success, kept so lockout works across server
    workers and restarts. A row is written before the password is checked (a reservation,
    see users/services.py) and deleted if the password was right. Holds the canonical
    username tried (`canonical_username`) and the client IP; never the password.
    """

    username = models.CharField(max_length=150)
    ip = models.GenericIPAddressField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "login failure"
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["username", "occurred_at"], name="users_loginfailure_user_idx"),
            models.Index(fields=["ip", "occurred_at"], name="users_loginfailure_ip_idx"),
        ]

    def __str__(self):
        return f"login failure {self.pk}"
