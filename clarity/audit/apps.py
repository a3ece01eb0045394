from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "clarity.audit"
    label = "audit"
    verbose_name = "Audit trail"
