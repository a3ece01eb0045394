from django.conf import settings
from django.db import models
from django.utils import timezone

from clarity.sqlite import Now


class Action(models.TextChoices):
    READ = "read"
    LIST = "list"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    DENIED = "denied"
    BREAK_GLASS = "break_glass"


class Outcome(models.TextChoices):
    SUCCESS = "success"
    DENIED = "denied"
    FAILURE = "failure"


class AuditEvent(models.Model):
    """
    One access to protected data, or one authentication event: the HIPAA access trail.

    Holds identifiers only (who, what kind of record, which id, which patient), never PHI
    values. Rows are append-only in the database itself: a trigger refuses UPDATE and
    DELETE, except the one-time sealing write of `chain_seq`, `prev_hash` and `hash`
    that links the event into the tamper-evident HMAC chain.
    """

    id = models.BigAutoField(primary_key=True)
    # clarity.sqlite.Now: on SQLite, the same text form as a bound filter value (`since`).
    occurred_at = models.DateTimeField(db_default=Now())
    # PROTECT: a user with audit history is deactivated, never deleted, so the trail
    # keeps pointing at a real account. The username/role snapshot survives renames.
    # No index of its own: audit_auditevent_actor_idx (actor, -occurred_at) leads with it,
    # and every index is written twice per event (insert, then seal).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        db_index=False,
    )
    actor_username = models.CharField(max_length=150, blank=True, default="")
    actor_role = models.CharField(max_length=16, blank=True, default="")
    action = models.CharField(max_length=16, choices=Action.choices)
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=64, blank=True, default="")
    # A plain UUID, not a foreign key: the trail must outlive even a purged patient.
    patient_id = models.UUIDField(null=True, blank=True, db_index=False)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    break_glass = models.BooleanField(default=False)
    # The chain: filled once, when the event is sealed.
    chain_seq = models.BigIntegerField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    hash = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "audit event"
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(action__in=Action.values), name="audit_auditevent_action_valid"),
            models.CheckConstraint(
                condition=models.Q(outcome__in=Outcome.values), name="audit_auditevent_outcome_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(resource_type=""), name="audit_auditevent_resource_type_required"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(chain_seq__isnull=True, prev_hash__isnull=True, hash__isnull=True)
                    | models.Q(chain_seq__isnull=False, prev_hash__isnull=False, hash__isnull=False)
                ),
                name="audit_auditevent_seal_complete",
            ),
            models.UniqueConstraint(fields=["chain_seq"], name="audit_auditevent_chain_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["-occurred_at", "-id"], name="audit_auditevent_recent_idx"),
            models.Index(fields=["patient_id", "-occurred_at"], name="audit_auditevent_patient_idx"),
            models.Index(fields=["actor", "-occurred_at"], name="audit_auditevent_actor_idx"),
            models.Index(fields=["id"], name="audit_auditevent_unsealed_idx", condition=models.Q(hash__isnull=True)),
        ]

    def __str__(self):
        return f"audit event {self.pk} ({self.action} {self.resource_type})"


class AuditChainHead(models.Model):
    """
    The chain's newest sealed link, one row: the fork guard and the anchor's source.

    Each sealing round moves it forward with a compare-and-set (`seq` must still be the
    value the round started from), claiming positions `round_first`..`seq` for the
    sealing transaction (`round_xid`); on PostgreSQL a trigger refuses any seal outside
    the current transaction's claim. A unique index cannot do this on the partitioned
    audit table (it would have to include `occurred_at`), and this row stays small.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    round_first = models.BigIntegerField(default=0)
    round_xid = models.BigIntegerField(null=True, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "audit chain head"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_chainhead_single_row"),
            models.CheckConstraint(condition=models.Q(seq__gte=0), name="audit_chainhead_seq_not_negative"),
        ]

    def __str__(self):
        return f"audit chain head at {self.seq}"


class AuditArchive(models.Model):
    """
    One archived month of the audit trail: its partition was detached, written to
    `file_name` (gzip NDJSON, sorted by chain_seq) with an HMAC, verified against the
    chain and only then dropped (clarity/audit/archive.py). `verify_audit --archive DIR`
    finds every file listed here and checks it end to end with the live chain.
    """

    partition = models.CharField(max_length=63, unique=True)
    month = models.DateField()
    file_name = models.CharField(max_length=255)
    file_hmac = models.CharField(max_length=64)
    events = models.BigIntegerField()
    first_seq = models.BigIntegerField(null=True, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)
    archived_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "audit archive"
        ordering = ["month"]
        constraints = [
            models.CheckConstraint(condition=models.Q(events__gte=0), name="audit_auditarchive_events_not_negative"),
        ]

    def __str__(self):
        return f"audit archive {self.partition}"
