"""The external anchor of the chain head (clarity/audit/anchor.py), on both databases."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from clarity.audit.chain import seal_pending, verify_chain
from clarity.audit.services import AuditContext, audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def anchor_file(tmp_path):
    path = tmp_path / "anchors.ndjson"
    with override_settings(AUDIT_ANCHOR_PATH=str(path)):
        yield path


def write(n):
    for i in range(n):
        audit_record(AuditContext(ip="127.0.0.1"), action="read", resource_type="patient", resource_id=str(i))
    seal_pending()


def test_anchors_are_appended_signed_and_verified(anchor_file):
    write(3)
    call_command("audit_anchor")
    write(2)
    call_command("audit_anchor")
    lines = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [line["chain_seq"] for line in lines] == [3, 5]
    assert all(len(line["mac"]) == 64 for line in lines)
    assert verify_chain().ok


def test_deleting_the_newest_events_and_rewinding_the_head_is_caught_by_the_anchor(anchor_file):
    write(4)
    call_command("audit_anchor")
    with connection.cursor() as cursor:  # an attacker with SQL rights removes events 3-4 and rewinds the head
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_delete")
        cursor.execute("DELETE FROM audit_auditevent WHERE chain_seq > 2")
        cursor.execute(
            "UPDATE audit_auditchainhead SET seq = 2, hash = (SELECT hash FROM audit_auditevent WHERE chain_seq = 2)"
        )
    result = verify_chain()
    assert not result.ok and "anchored at 4" in result.reason
    with pytest.raises(CommandError, match="anchored at 4"):
        call_command("verify_audit")


def test_a_forged_anchor_is_refused(anchor_file):
    write(1)
    call_command("audit_anchor")
    record = json.loads(anchor_file.read_text())
    anchor_file.write_text(json.dumps({**record, "chain_seq": 0}) + "\n")
    assert "signature is invalid" in verify_chain().reason


def test_without_a_store_the_command_says_so():
    with pytest.raises(CommandError, match="AUDIT_ANCHOR_PATH"):
        call_command("audit_anchor")
