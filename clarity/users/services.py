"""Writes for users and authentication: issuing and revoking tokens, creating users, lockout."""

import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clarity.audit.models import Action, Outcome
from clarity.audit.services import AuditContext, audit_record

from .models import ApiToken, LoginFailure, Role, User, hash_token


class LockedOut(Exception):
    """Too many recent failures for this account or IP; `retry_after` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__("locked out")
        self.retry_after = retry_after


class InvalidCredentials(Exception):
    pass


class DuplicateUser(Exception):
    """Username or email already taken (compared case-insensitively)."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


@dataclass
class IssuedToken:
    raw: str
    token: ApiToken


def _lockout_remaining(username: str, ip: str | None, now) -> int:
    window_start = now - settings.LOGIN_LOCKOUT
    checks = [(LoginFailure.objects.filter(username=username), settings.LOGIN_FAILURE_LIMIT_ACCOUNT)]
    if ip:
        checks.append((LoginFailure.objects.filter(ip=ip), settings.LOGIN_FAILURE_LIMIT_IP))
    remaining = 0
    for queryset, limit in checks:
        recent = list(
            queryset.filter(occurred_at__gt=window_start).order_by("-occurred_at").values_list("occurred_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            # Locked for LOGIN_LOCKOUT counted from the failure that reached the limit.
            until = recent[0] + settings.LOGIN_LOCKOUT
            remaining = max(remaining, math.ceil((until - now).total_seconds()))
    return remaining


def token_issue(*, username: str, password: str, ctx: AuditContext) -> IssuedToken:
    """
    Check credentials and issue a token. Raises LockedOut (429) after too many failures
    for the account or the IP, InvalidCredentials (401) otherwise. Failures are recorded
    and audited even though the caller gets an error.
    """
    now = timezone.now()
    key = username.strip().lower()[:150]
    remaining = _lockout_remaining(key, ctx.ip, now)
    if remaining > 0:
        with transaction.atomic():
            audit_record(ctx, action=Action.LOGIN_FAILED, resource_type="auth", outcome=Outcome.DENIED)
        raise LockedOut(remaining)
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        with transaction.atomic():
            LoginFailure.objects.create(username=key, ip=ctx.ip, occurred_at=now)
            audit_record(ctx, action=Action.LOGIN_FAILED, resource_type="auth", outcome=Outcome.FAILURE)
        raise InvalidCredentials()
    raw = ApiToken.generate_raw()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, key_hash=hash_token(raw), created_at=now, expires_at=now + settings.AUTH_TOKEN_TTL
        )
        User.objects.filter(pk=user.pk).update(last_login=now)
        ctx.actor = user
        audit_record(ctx, action=Action.LOGIN, resource_type="user", resource_id=user.pk)
    return IssuedToken(raw=raw, token=token)


def token_revoke(*, token: ApiToken, ctx: AuditContext) -> None:
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_record(ctx, action=Action.LOGOUT, resource_type="user", resource_id=token.user_id)


def session_end(*, request, ctx: AuditContext) -> None:
    """Log a Django session out (API logout without a bearer token), audited as `logout`."""
    from django.contrib.auth import logout

    user_id = request.user.pk
    with transaction.atomic():
        audit_record(ctx, action=Action.LOGOUT, resource_type="user", resource_id=user_id)
    logout(request)


def user_create(*, username: str, email: str, password: str, role: str, first_name: str = "", last_name: str = "", ctx: AuditContext) -> User:
    """
    Create a user. Raises DuplicateUser (409) for a taken username/email in any case,
    ValidationError (400) for a weak password. Admin-role users get Django admin access
    (staff and superuser); no other role does.
    """
    if User.objects.filter(username__iexact=username).exists():
        raise DuplicateUser("username")
    if User.objects.filter(email__iexact=email).exists():
        raise DuplicateUser("email")
    user = User(
        username=username,
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
        # DOMAIN.md: the admin role sees everything and is staff; in the Django admin that
        # is every model permission, so admins are superusers (other roles: neither).
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            audit_record(ctx, action=Action.CREATE, resource_type="user", resource_id=user.pk)
    except IntegrityError:
        # A concurrent create won the race; the database's case-insensitive unique index judged it.
        raise DuplicateUser("username") from None
    return user
