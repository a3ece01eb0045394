from django.contrib.auth import logout
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from clarity.api.errors import Problem
from clarity.api.pagination import KeysetPaginator
from clarity.api.query import check_params
from clarity.api.schema import PAGE_PARAMETERS, paginated, problems
from clarity.api.views import ApiView
from clarity.users.models import ApiToken
from clarity.users.policy import ADMINS, EVERYONE, roles
from clarity.users.selectors import users_visible_to

from . import services
from .serializers import (
    TokenRequestSerializer,
    TokenSerializer,
    UserCreateSerializer,
    UserSerializer,
    token_representation,
    user_representation,
)


class TokenView(ApiView):
    permission_classes = [AllowAny]
    authentication_classes = []
    audit_resource_type = "auth"

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **problems(400, 401, 413, 415, 429)},
        auth=[],
        summary="Exchange a username and password for a bearer token",
    )
    async def post(self, request):
        return await self.run(self.issue, request)

    def issue(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ctx = self.audit_context(request)
        try:
            issued = services.token_issue(
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
                ctx=ctx,
            )
        except services.InvalidCredentials:
            raise Problem(401, "Invalid username or password.", headers={"WWW-Authenticate": "Bearer"}) from None
        return Response(token_representation(issued.raw, issued.token))


class LogoutView(ApiView):
    permission_classes = [roles(POST=EVERYONE)]

    @extend_schema(
        operation_id="auth_logout",
        request=None,
        responses={204: None, **problems()},
        summary="Revoke the presented bearer token",
    )
    async def post(self, request):
        return await self.run(self.logout, request)

    def logout(self, request):
        if isinstance(request.auth, ApiToken):
            services.token_revoke(token=request.auth, ctx=self.audit_context(request))
        else:
            # Session login: end the session; the user_logged_out receiver audits it like a token logout.
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(ApiView):
    permission_classes = [roles(GET=EVERYONE)]

    @extend_schema(operation_id="users_me", responses={200: UserSerializer, **problems()})
    async def get(self, request):
        return await self.run(self.me, request)

    def me(self, request):
        return Response(user_representation(request.user))


USER_PAGES = KeysetPaginator(["username", "id"])


class UserListView(ApiView):
    audit_resource_type = "user"
    permission_classes = [roles(GET=ADMINS, POST=ADMINS)]

    @extend_schema(
        operation_id="users_list",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(UserSerializer, "PaginatedUserList"), **problems(400, 403)},
    )
    async def get(self, request):
        return await self.run(self.list, request)

    @extend_schema(
        operation_id="users_create",
        request=UserCreateSerializer,
        responses={201: UserSerializer, **problems(400, 403, 409, 413, 415)},
    )
    async def post(self, request):
        return await self.run(self.create, request)

    def list(self, request):
        check_params(request, set())
        page = USER_PAGES.paginate(users_visible_to(request.user), request)
        return Response(page.body(user_representation))

    def create(self, request):
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data, ctx=self.audit_context(request))
        return Response(user_representation(user), status=status.HTTP_201_CREATED)
