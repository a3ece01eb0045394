"""Research datasets in the Django admin: definition, manifest and build log — never rows.

Rows and the pseudonym table (the link back to patients) are deliberately not registered:
an admin reviewing a release must not be able to re-identify it from here. Datasets are
defined and built through the API, whose service applies the de-identification rules.
"""

import json

from django.contrib import admin
from django.utils.html import format_html

from clarity.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import ResearchDataset


@admin.register(ResearchDataset)
class ResearchDatasetAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    audit_resource_type = "research_dataset"

    list_display = ("name", "status", "cohort_kind", "cohort_value", "k", "ready_build", "created_by", "built_at")
    list_filter = ("status", "cohort_kind")
    search_fields = ("=id", "name")
    list_select_related = ("created_by",)
    fields = (
        "id", "name", "purpose", "researchers", "cohort_kind", "cohort_value", "interaction_kinds", "k",
        "status", "build_number", "ready_build", "created_by", "created_at", "built_by", "built_at",
        "manifest_pretty", "build_log_pre",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="manifest")
    def manifest_pretty(self, obj):
        manifest = {key: value for key, value in obj.manifest.items() if not key.startswith("_")}
        return format_html("<pre>{}</pre>", json.dumps(manifest, indent=2, ensure_ascii=False))

    @admin.display(description="build log")
    def build_log_pre(self, obj):
        return format_html("<pre>{}</pre>", obj.build_log)
