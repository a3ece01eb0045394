from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from clarity.admin_mixins import ReadOnlyAdminMixin, ReviewAdminMixin
from clarity.admin_site import user_label
from clarity.audit.services import AuditContext

from . import services
from .models import ApiToken, LoginFailure, User


@admin.register(User)
class UserAdmin(ReviewAdminMixin, DjangoUserAdmin):
    change_form_template = "clarity/admin/change_form.html"
    list_display = ("username", "full_name", "email", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "email", "first_name", "last_name")
    ordering = ("username",)
    fieldsets = DjangoUserAdmin.fieldsets + (("Clarity", {"fields": ("role",)}),)
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "role", "password1", "password2")}),)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj):
        return obj.get_full_name()


@admin.register(ApiToken)
class ApiTokenAdmin(ReviewAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """View-only (tokens are issued by POST /api/v1/auth/token/); revoking is an audited action."""

    list_display = ("id", "user_name", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at", "expires_at")
    date_hierarchy = "created_at"
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("id", "user", "created_at", "expires_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    @admin.display(description="user", ordering="user__username")
    def user_name(self, obj):
        return user_label(obj.user)

    def has_revoke_permission(self, request):
        return request.user.is_active and request.user.is_staff and request.user.has_perm("users.change_apitoken")

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        """Through token_revoke, as POST /api/v1/auth/logout/ does: one `logout` event per live token."""
        ctx = AuditContext.from_request(request)
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            services.token_revoke(token=token, ctx=ctx)
        self.message_user(request, f"{len(tokens)} token(s) revoked.")


@admin.register(LoginFailure)
class LoginFailureAdmin(ReviewAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "username", "ip")
    date_hierarchy = "occurred_at"
    search_fields = ("username", "ip")
    fields = ("username", "ip", "occurred_at")
    readonly_fields = fields
