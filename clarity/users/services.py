"""Writes for users and authentication: issuing and revoking tokens, creating users, lockout."""

import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clarity.audit.models import Action, Outcome
from clarity.audit.services import AuditContext, audit_record
from clarity.errors import Busy, Conflict

from .models import ApiToken, LoginFailure, User, canonical_username, hash_token


class LockedOut(Busy):
    """Too many recent failures for this account or IP; `retry_after` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__("Too many failed logins; retry later.", retry_after=retry_after)


class InvalidCredentials(Exception):
    pass


class DuplicateUser(Conflict):
    """Username or email already taken (compared case-insensitively)."""

    message = "A user with this username or email already exists."
    field_message = "Already taken."

    def __init__(self, field: str):
        super().__init__(field=field)


@dataclass
class IssuedToken:
    raw: str
    token: ApiToken


def _claim_evaluation(key: str, ip: str | None) -> bool:
    """
    Within the caller's transaction, make this login the only one for its account and its IP
    between the lockout check and the reservation, so the two are one step for everyone: at
    most the limit of passwords is ever checked per window, however many arrive at once.
    False if another login for the account or the IP holds that step now.

    PostgreSQL: transaction-scoped advisory locks on the account and on the IP, only TRIED:
    waiting for one would hold a pooled connection, and a burst from one address larger than
    the pool would then take every connection and time out everyone's requests (503). The
    caller refuses the attempt instead (at most one evaluation at a time per account and per
    IP). SQLite: transactions begin IMMEDIATE (settings), so this one already holds the
    database's write lock.
    """
    if connection.vendor != "postgresql":
        return True
    names = sorted({f"account:{key}"} | ({f"ip:{ip}"} if ip else set()))
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [_LOGIN_LOCK_CLASS, name])
            if not cursor.fetchone()[0]:
                return False
    return True


# An arbitrary 32-bit constant naming "login attempts" in the advisory-lock space.
_LOGIN_LOCK_CLASS = 0x4C4F4731

# Retry-After (seconds) of a login refused because another for its account or IP is being
# evaluated: that step is a few milliseconds, so the client may retry at once.
_BUSY_RETRY_AFTER = 1


def _lockout_remaining(username: str, ip: str | None, now) -> int:
    window_start = now - settings.LOGIN_LOCKOUT
    checks = [(LoginFailure.objects.filter(username=username), settings.LOGIN_FAILURE_LIMIT_ACCOUNT)]
    if ip:
        checks.append((LoginFailure.objects.filter(ip=ip), settings.LOGIN_FAILURE_LIMIT_IP))
    remaining = 0
    for queryset, limit in checks:
        recent = list(
            queryset.filter(occurred_at__gt=window_start)
            .order_by("-occurred_at")
            .values_list("occurred_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            # Locked for LOGIN_LOCKOUT counted from the failure that reached the limit.
            until = recent[0] + settings.LOGIN_LOCKOUT
            remaining = max(remaining, math.ceil((until - now).total_seconds()))
    return remaining


def _release_connection() -> None:
    """
    Give the pooled PostgreSQL connection back while the password is hashed (Argon2: ~0.1 s
    of CPU and 100 MiB each): a burst of logins would otherwise hold every connection of the
    pool through its hashes, and the quick requests queued behind them time out with 503.
    The next query takes a connection again. Not inside a transaction (tests wrap one).
    """
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        connection.close()


def _account_reference(account_id) -> dict:
    """The audited resource of a login attempt: the account's id if it exists, never the text typed."""
    if account_id is None:
        return {"resource_type": "auth"}
    return {"resource_type": "user", "resource_id": account_id}


def _verify_password(key: str, password: str) -> tuple[User | None, object]:
    """(the user if the password is right and the account active, the account's id or None)."""
    user = User.objects.filter(username=key).first()
    if user is None:
        # Hash anyway, so an unknown username costs as long as a wrong password (as Django's ModelBackend does).
        User().set_password(password)
        return None, None
    if user.check_password(password) and user.is_active:
        return user, user.pk
    return None, user.pk


def login_verify(*, username: str, password: str, ctx: AuditContext) -> User:
    """
    The one password check of Clarity, for the API token endpoint and for every Django
    `authenticate()` caller (the admin login, through clarity.users.backends).

    Lockout: at most LOGIN_FAILURE_LIMIT_ACCOUNT attempts per account and
    LOGIN_FAILURE_LIMIT_IP per client IP are evaluated within LOGIN_LOCKOUT; after that
    LockedOut (with seconds to wait) until the newest counted attempt is LOGIN_LOCKOUT old.
    At most one attempt per account and per IP is between its check and its count at a time;
    one arriving meanwhile is refused at once (LockedOut, retry after 1 s), never queued.
    Each attempt is counted (a LoginFailure row, committed) BEFORE its password is hashed,
    and the count and that row are one serialised step, so concurrent attempts cannot all
    pass the check while the first hashes are still running; a right password deletes its row.

    Raises LockedOut or InvalidCredentials; both are audited as `login_failed` with the
    account's id as the resource when the username exists.
    """
    canonical = canonical_username(username)
    key = canonical[:150]  # the counter's key; no username is longer, so none is merged wrongly
    with transaction.atomic():
        now = timezone.now()
        if _claim_evaluation(key, ctx.ip):
            remaining = _lockout_remaining(key, ctx.ip, now)
        else:
            remaining = _BUSY_RETRY_AFTER
        if remaining > 0:
            account_id = User.objects.filter(username=canonical).values_list("pk", flat=True).first()
            audit_record(ctx, action=Action.LOGIN_FAILED, outcome=Outcome.DENIED, **_account_reference(account_id))
            attempt = None
        else:
            attempt = LoginFailure.objects.create(username=key, ip=ctx.ip, occurred_at=now)
    if attempt is None:
        raise LockedOut(remaining)
    _release_connection()
    user, account_id = _verify_password(canonical, password)
    if user is None:
        with transaction.atomic():
            audit_record(ctx, action=Action.LOGIN_FAILED, outcome=Outcome.FAILURE, **_account_reference(account_id))
        raise InvalidCredentials()
    LoginFailure.objects.filter(pk=attempt.pk).delete()
    return user


def token_issue(*, username: str, password: str, ctx: AuditContext) -> IssuedToken:
    """
    Check credentials (login_verify: LockedOut → 429, InvalidCredentials → 401) and issue a
    token, audited as `login`.
    """
    user = login_verify(username=username, password=password, ctx=ctx)
    now = timezone.now()
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


def session_start_audit(*, user, ctx: AuditContext) -> None:
    """A Django session login (the admin, a browser client): audited as `login` like a token."""
    ctx.actor = user
    with transaction.atomic():
        audit_record(ctx, action=Action.LOGIN, resource_type="user", resource_id=user.pk)


def session_end_audit(*, user, ctx: AuditContext) -> None:
    """A Django session logout (admin logout, API logout without a bearer token): `logout`."""
    ctx.actor = user
    with transaction.atomic():
        audit_record(ctx, action=Action.LOGOUT, resource_type="user", resource_id=user.pk)


def user_create(
    *, username: str, email: str, password: str, role: str, first_name: str = "", last_name: str = "", ctx: AuditContext
) -> User:
    """
    Create a user. Raises DuplicateUser (409) for a taken username/email in any case,
    ValidationError (400) for a weak password. Admin-role users get Django admin access
    (staff and superuser); no other role does.
    """
    username = canonical_username(username)
    if User.objects.filter(username=username).exists():
        raise DuplicateUser("username")
    if User.objects.filter(email__iexact=email).exists():
        raise DuplicateUser("email")
    user = User(
        username=username,
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
    )
    user.grant_admin_site_by_role()
    user.validate_username()
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
