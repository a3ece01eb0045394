import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from clarity.audit.chain import GENESIS, seal_pending, verify_chain
from clarity.audit.models import AuditEvent
from clarity.audit.services import AuditContext, audit_record


def _write_events(n, actor=None):
    ctx = AuditContext(actor=actor, ip="127.0.0.1", request_id="test")
    return [audit_record(ctx, action="read", resource_type="patient", resource_id=str(i)) for i in range(n)]


def _tamper(sql, params=()):
    """Edit the trail behind the application's back, as an attacker with SQL access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks so ALTER is allowed
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")  # append-only and seal claim
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_no_delete")
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_sealing_links_every_event_into_one_verifiable_chain():
    _write_events(5)
    assert seal_pending() == 5
    events = list(AuditEvent.objects.order_by("chain_seq"))
    assert [e.chain_seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS
    assert all(events[i].prev_hash == events[i - 1].hash for i in range(1, 5))
    assert verify_chain().ok


@pytest.mark.django_db
def test_events_written_after_a_seal_extend_the_chain():
    _write_events(2)
    seal_pending()
    _write_events(3)
    assert seal_pending() == 3
    assert verify_chain().ok
    assert verify_chain().checked == 5


@pytest.mark.django_db
def test_verify_audit_seals_pending_events_and_passes():
    _write_events(3)
    call_command("verify_audit")
    assert not AuditEvent.objects.filter(hash__isnull=True).exists()


@pytest.mark.django_db
def test_verify_audit_catches_an_edited_row():
    events = _write_events(4)
    seal_pending()
    _tamper("UPDATE audit_auditevent SET actor_username = %s WHERE id = %s", ["mallory", events[2].id])
    result = verify_chain()
    assert not result.ok and result.bad_event_id == events[2].id
    with pytest.raises(CommandError, match=f"event {events[2].id}"):
        call_command("verify_audit", "--no-seal")


@pytest.mark.django_db
def test_verify_audit_catches_a_deleted_row():
    events = _write_events(4)
    seal_pending()
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].id])
    result = verify_chain()
    assert not result.ok and result.bad_event_id == events[2].id
    with pytest.raises(CommandError):
        call_command("verify_audit", "--no-seal")


@pytest.mark.django_db
def test_verify_audit_catches_reordered_rows():
    events = _write_events(4)
    seal_pending()
    a, b = events[1].id, events[2].id
    _tamper("UPDATE audit_auditevent SET chain_seq = -1 WHERE id = %s", [a])
    _tamper("UPDATE audit_auditevent SET chain_seq = 2 WHERE id = %s", [b])
    _tamper("UPDATE audit_auditevent SET chain_seq = 3 WHERE id = %s", [a])
    result = verify_chain()
    assert not result.ok and result.bad_event_id == b
    with pytest.raises(CommandError):
        call_command("verify_audit", "--no-seal")


@pytest.mark.django_db
def test_an_unsealed_event_fails_verification_without_sealing():
    _write_events(1)
    result = verify_chain()
    assert not result.ok and result.reason == "event is not sealed"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sealers_never_fork_the_chain():
    writers, per_writer = 8, 40
    barrier = threading.Barrier(writers)
    errors = []

    def work():
        try:
            barrier.wait()
            for i in range(per_writer):
                from django.db import transaction

                with transaction.atomic():
                    audit_record(
                        AuditContext(ip="127.0.0.1"), action="read", resource_type="patient", resource_id=str(i)
                    )
                seal_pending()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seal_pending()
    result = verify_chain()
    assert result.ok, result
    assert result.checked == writers * per_writer


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_sealing_round_reads_the_unsealed_events_through_their_index_whatever_the_costs_say():
    from django.db import transaction

    from clarity.audit import chain

    _write_events(3)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Costs that make the planner prefer reading the whole partition (as stale
            # statistics did: 4-12 ms a round); the round's own setting must overrule them.
            cursor.execute("SET LOCAL random_page_cost = 100000")
        assert chain._try_lock()
        plan = chain.unsealed()[: chain.SEAL_BATCH].explain()
    assert "audit_auditevent_y" in plan and "Seq Scan" not in plan, plan
    assert seal_pending() == 3 and verify_chain().ok


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_round_writes_its_seals_by_index_probes_however_many_events_wait_and_whatever_the_statistics_say():
    import re

    from django.db import transaction

    from clarity.audit import chain

    _write_events(1)
    seal_pending()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")  # statistics taken with no event unsealed
    _write_events(300)
    with transaction.atomic():
        assert chain._try_lock()
        rows = chain._links(list(chain.unsealed()[:5]), *chain._head())
        chain._claim(rows[0][0], rows[-1][0], rows[-1][2])
        with connection.cursor() as cursor:
            sql = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + chain._SEAL_SQL
            cursor.execute(sql, chain._seal_params(rows))
            plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    # Hashing every waiting event to find the round's five read 300 rows from the partition.
    scanned = [int(n) for n in re.findall(r" on audit_auditevent_\S+ \S+ \(actual rows=(\d+)", plan)]
    assert scanned and max(scanned) == 5, plan


@pytest.mark.django_db
def test_after_a_commit_a_request_seals_one_round_and_a_full_round_lets_the_next_commit_seal_at_once(
    monkeypatch, settings
):
    from clarity.audit import chain

    settings.AUDIT_SEAL_INTERVAL = 3600
    monkeypatch.setattr(chain, "SEAL_BATCH", 3)
    monkeypatch.setattr(chain, "_last_attempt", 0.0)
    _write_events(5)

    def unsealed():
        return AuditEvent.objects.filter(hash__isnull=True).count()

    chain.seal_soon()
    assert unsealed() == 2  # one round only: the request that found the backlog waits for no more
    chain.seal_soon()
    assert unsealed() == 0  # the round was full, so the next commit sealed without waiting
    _write_events(1)
    chain.seal_soon()
    assert unsealed() == 1  # that round was not full: the interval applies again
    assert seal_pending() == 1 and verify_chain().ok
