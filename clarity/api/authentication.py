"""API authentication: opaque bearer tokens (stored hashed), or a session with CSRF."""

from django.db import connections, router
from django.utils import timezone
from rest_framework import authentication, exceptions

from clarity.fixed_sql import Columns
from clarity.users.models import ApiToken, User, hash_token

# Every API request runs this, so it is one fixed statement (clarity/fixed_sql.py): the
# ORM queryset's building and compiling cost more than the query (README "Performance").
# It is also the one definition of a live token: unrevoked, unexpired, of an active user.
_USER = Columns(User, tuple(field.attname for field in User._meta.concrete_fields))
_TOKEN = Columns(ApiToken, ("id", "user_id", "key_hash", "created_at", "expires_at", "revoked_at"))
_TOKEN_SQL = (
    f"SELECT {_USER.sql('u')}, {_TOKEN.sql('t')}"  # noqa: S608 - fixed names
    " FROM users_apitoken t JOIN users_user u ON u.id = t.user_id"
    " WHERE t.key_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND u.is_active"
)


def _live_token(key_hash: str) -> ApiToken | None:
    """The live token with this hash, its user attached."""
    alias = router.db_for_read(ApiToken)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [key_hash, connection.ops.adapt_datetimefield_value(timezone.now())])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_USER.names)
    token = _TOKEN.instance(alias, row[split:])
    token.user = _USER.instance(alias, row[:split])
    return token


API_PATHS = ("/api/", "/fhir/")


def bearer_api_request(request) -> bool:
    """An API (or FHIR) request that authenticates with a bearer token, never a session:
    the browser machinery (session, CSRF, messages) has nothing to do for it."""
    return request.path.startswith(API_PATHS) and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`. One query: the token joined to its user."""

    keyword = "bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        # HTTP separates the scheme with ASCII spaces only; str.split() would also split on
        # U+00A0 or U+0085 (a header byte 0xA0/0x85), leave nothing and raise IndexError.
        parts = [part for part in header.split(" ") if part]
        if not parts or parts[0].lower() != self.keyword:
            return None  # not a bearer header: unauthenticated, 401 on every protected endpoint
        if len(parts) != 2 or len(parts[1]) > 256:
            raise exceptions.AuthenticationFailed()
        token = _live_token(hash_token(parts[1]))
        if token is None:
            raise exceptions.AuthenticationFailed()
        request._request._clarity_user_id = token.user_id
        return token.user, token

    def authenticate_header(self, request):
        return "Bearer"


class CsrfRefused(exceptions.PermissionDenied):
    """A valid session sent an unsafe request without the CSRF token: 403, audited as denied
    against the session's user (DRF has not set request.user when authentication refuses)."""

    def __init__(self, actor):
        super().__init__()
        self.actor = actor


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """Django session login for a same-origin web client; unsafe methods need the CSRF token."""

    def enforce_csrf(self, request):
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied:
            # A forged cross-site request riding a real session is an access attempt on the
            # account: it must leave a trace, so the refusal names the session's user.
            raise CsrfRefused(getattr(request._request, "user", None)) from None
