"""PostgreSQL: audit_auditevent becomes a table partitioned by month on occurred_at.

Rows, indexes, the actor foreign key, the checks and the append-only trigger are carried
over (clarity/partitions.py). The primary key becomes (id, occurred_at) and the unique
chain_seq constraint goes — a partitioned table's unique index must include the partition
key — replaced by the chain head guard: a trigger refusing any seal at a position the
sealing transaction has not claimed in audit_auditchainhead (clarity/audit/chain.py).
SQLite keeps one table and its unique constraint. Reversing leaves the layout partitioned
(only the claim trigger goes); migrating the app to zero drops the table as before.
"""

from django.db import migrations

from clarity.partitions import convert_to_monthly_partitions

CLAIM_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_auditevent_seal_claimed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head record;
BEGIN
    -- A partial seal is left to the audit_auditevent_seal_complete check.
    IF NEW.chain_seq IS NULL OR NEW.hash IS NULL OR NEW.prev_hash IS NULL
            OR (TG_OP = 'UPDATE' AND OLD.chain_seq IS NOT DISTINCT FROM NEW.chain_seq) THEN
        RETURN NEW;
    END IF;
    SELECT round_first, seq, round_xid INTO head FROM audit_auditchainhead WHERE id = 1;
    IF head.round_xid IS DISTINCT FROM txid_current() OR NEW.chain_seq < head.round_first OR NEW.chain_seq > head.seq THEN
        RAISE EXCEPTION 'audit_auditevent_chain_seq_unique: chain position % was not claimed by this transaction', NEW.chain_seq
            USING ERRCODE = '23505';
    END IF;
    RETURN NEW;
END $$
"""
CLAIM_TRIGGER = (
    "CREATE TRIGGER audit_auditevent_seal_claimed BEFORE INSERT OR UPDATE OF chain_seq ON audit_auditevent"
    " FOR EACH ROW EXECUTE FUNCTION audit_auditevent_seal_claimed()"
)


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        convert_to_monthly_partitions(
            cursor,
            "audit_auditevent",
            "occurred_at",
            primary_key=("id", "occurred_at"),
            drop_constraints=("audit_auditevent_chain_seq_unique",),
        )
        # verify_audit walks the chain in chain_seq order: one index per partition, merged.
        cursor.execute("CREATE INDEX audit_auditevent_chain_seq_idx ON audit_auditevent (chain_seq)")
        cursor.execute(CLAIM_FUNCTION)
        cursor.execute(CLAIM_TRIGGER)


def drop_claim_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditevent_seal_claimed ON audit_auditevent")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_auditevent_seal_claimed()")


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("audit", "0003_audit_chain_head")]

    operations = [migrations.RunPython(partition, drop_claim_trigger)]
