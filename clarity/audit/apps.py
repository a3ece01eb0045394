from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AuditConfig(AppConfig):
    name = "clarity.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from clarity.sqlite import use_runtime_parameter_limit

        # A list page writes one audit event per patient and a batch POST up to 1,000 rows:
        # each must be one INSERT on SQLite too, so query counts do not grow with the page.
        connection_created.connect(use_runtime_parameter_limit, dispatch_uid="clarity.sqlite.parameter_limit")

        from clarity.postgres import use_compiled_timestamptz_loader

        # Every timestamp read from PostgreSQL (two per interaction on a page) is parsed by
        # psycopg's compiled loader rather than Django's pure-Python one.
        use_compiled_timestamptz_loader()

        from django.db.models.signals import post_migrate

        from .partitions import after_migrate

        # Every `migrate` leaves the next AUDIT_PARTITIONS_AHEAD months' partitions in place.
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="clarity.audit.partitions_ahead")
