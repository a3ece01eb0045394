"""API authentication: opaque bearer tokens (stored hashed), or a session with CSRF."""

from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions

from clarity.users.models import ApiToken, User, hash_token

# Every API request runs this: one hand-written statement instead of an ORM queryset,
# whose building and compiling cost more than the query (see README "Performance").
_TOKEN_SQL = (
    "SELECT u.*, t.id AS _token_id, t.created_at AS _token_created_at, t.expires_at AS _token_expires_at"
    " FROM users_apitoken t JOIN users_user u ON u.id = t.user_id"
    " WHERE t.key_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND u.is_active"
)


def _live_token(key_hash: str) -> ApiToken | None:
    """The live (unexpired, unrevoked) token with this hash, its active user attached."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    user = next(iter(User.objects.raw(_TOKEN_SQL, [key_hash, now])), None)
    if user is None:
        return None
    return ApiToken(
        id=user._token_id,
        user=user,
        key_hash=key_hash,
        created_at=user._token_created_at,
        expires_at=user._token_expires_at,
    )


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
