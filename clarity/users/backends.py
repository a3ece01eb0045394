"""The authentication backend: every `authenticate()` caller (the Django admin login, DRF's
browsable login, test clients) goes through the same login service as the API token
endpoint, so one set of lockout counters and one audit trail cover both doors.

Why not django-axes 8.3.1 (measured on this code base, PostgreSQL, `clarity.serve` with
2 workers, AxesStandaloneBackend + ModelBackend, AXES_FAILURE_LIMIT=5 by username): 40
concurrent wrong admin logins for one account had 33 passwords checked (limit 5) and two
500s (OperationalError). AxesBackend checks the counter before the password check and
counts the failure afterwards, in a user_login_failed handler, with nothing holding the two
together; and it has one AXES_FAILURE_LIMIT for every lockout parameter, where Clarity
counts 5 per account and 20 per IP. Here: 40 concurrent -> at most 5 checked, no 5xx
(clarity/tests/reliability/test_login_hardening.py)."""

import math

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from clarity.audit.services import AuditContext

from . import services
from .models import User


class LoginLocked(ValidationError):
    """
    Raised out of `authenticate()` when the account or IP is locked. Django's
    AuthenticationForm.clean() calls authenticate(), so the admin login form shows this as
    its error (a PermissionDenied would be swallowed into "wrong username or password").
    """

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            "Too many failed sign-ins for this account or from this address: sign-in is locked. "
            "Try again in %(minutes)d minute%(plural)s.",
            code="locked",
            params={"minutes": minutes, "plural": "" if minutes == 1 else "s"},
        )
        self.retry_after = retry_after


class LockoutModelBackend(ModelBackend):
    """ModelBackend's permissions, with the password check of `services.login_verify`."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        ctx = AuditContext.from_request(request) if request is not None else AuditContext()
        try:
            return services.login_verify(username=username, password=password, ctx=ctx)
        except services.LockedOut as exc:
            raise LoginLocked(exc.retry_after) from None
        except services.InvalidCredentials:
            return None
