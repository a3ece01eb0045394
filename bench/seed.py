"""Seed the benchmark database fast, with set-based SQL (INSERT ... SELECT generate_series).

Call after `django.setup()` on a PostgreSQL database. Everything is seeded once per
scale and remembered in a small `bench_seed` table, so later runs reuse it.

Shape (defaults): 10,000 patients; `bench-clinician` is the primary clinician of the
first 2,000 (their "panel"), `bench-other` of the rest; 1,000,000 interactions: 100,000
on one panel patient (the "heavy" patient, for deep pages and the export) and the rest
spread evenly over all patients. Contact fields (email/phone/address) stay NULL so the
seed does not depend on how they are stored (they may become encrypted columns).

Bulk inserts run with `session_replication_role = replica` (bench only): that skips the
per-row foreign-key and integrity triggers, which would otherwise dominate the seeding
time; the generated rows satisfy them by construction.
"""

import json
import time

from django.db import connection, transaction

CLINICIAN = "bench-clinician"
OTHER = "bench-other"
MRN_PREFIX = "BENCH-"
HEAVY_MRN = "BENCH-HEAVY"
SCALE_MRN = "BENCH-SCALE-{}"
CHUNK = 1_000_000

GIVEN = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lea",
    "Milo",
    "Nia",
    "Omar",
    "Pia",
    "Rex",
    "Sol",
    "Tara",
    "Uma",
]
FAMILY = [
    "Abbott",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haas",
    "Ito",
    "Jones",
    "Kim",
    "Lopez",
    "Meyer",
    "Novak",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Silva",
    "Tan",
]


def _log(message):
    print(f"[seed] {message}", flush=True)


def _sql_array(values):
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _ensure_marker_table(cursor):
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS bench_seed (name text PRIMARY KEY, value jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
    )


def _marker(name):
    with connection.cursor() as cursor:
        _ensure_marker_table(cursor)
        cursor.execute("SELECT value FROM bench_seed WHERE name = %s", [name])
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def _set_marker(cursor, name, value):
    cursor.execute(
        "INSERT INTO bench_seed (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, created_at = now()",
        [name, json.dumps(value)],
    )


def _clinician(username):
    from clarity.users.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(
            username=username, email=f"{username}@bench.invalid", role="clinician", password=None
        )
    return user


def _insert_interactions(cursor, *, patient_sql, count, actor_id, label):
    """`count` interactions, newest at now(), one minute apart; `patient_sql` maps g (1..count) to a patient id."""
    started = time.monotonic()
    for low in range(1, count + 1, CHUNK):
        high = min(low + CHUNK - 1, count)
        cursor.execute(
            f"""
            INSERT INTO interactions_interactionlog (patient_id, twin_id, actor_id, kind, payload, occurred_at, recorded_at)
            SELECT {patient_sql}, NULL, %(actor)s,
                   CASE mod(g, 3) WHEN 0 THEN 'message' WHEN 1 THEN 'assessment' ELSE 'observation' END,
                   CASE mod(g, 3)
                       WHEN 0 THEN jsonb_build_object('text', 'Slept better this week, note ' || g)
                       WHEN 1 THEN jsonb_build_object('instrument', 'PHQ-9', 'score', mod(g, 28))
                       ELSE jsonb_build_object('sleep_hours', 4 + mod(g, 6), 'steps', 1000 + mod(g, 9000))
                   END,
                   now() - make_interval(mins => g), now()
            FROM generate_series(%(low)s::int, %(high)s::int) AS g
            """,
            {"actor": actor_id, "low": low, "high": high},
        )
        _log(f"{label}: {high:,}/{count:,} interactions ({time.monotonic() - started:.0f} s)")


def seed_main(*, patients: int, panel: int, interactions: int, heavy: int) -> None:
    """The default bench data set; a no-op when it is already seeded at this scale."""
    wanted = {"patients": patients, "panel": panel, "interactions": interactions, "heavy": heavy}
    have = _marker("main")
    if have == wanted:
        _log(f"reusing seeded data: {wanted}")
        return
    if have is not None:
        raise SystemExit(
            f"bench database already seeded with {have}; drop it (dropdb clarity_bench) to reseed at {wanted}"
        )
    started = time.monotonic()
    clinician = _clinician(CLINICIAN)
    other = _clinician(OTHER)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            f"""
            INSERT INTO patients_patient (id, mrn, given_name, family_name, date_of_birth, sex, email, phone, address,
                                          status, user_id, version, created_at, updated_at)
            SELECT gen_random_uuid(),
                   CASE WHEN g = 1 THEN %(heavy_mrn)s ELSE %(prefix)s || lpad(g::text, 7, '0') END,
                   ({_sql_array(GIVEN)})[1 + mod(g, {len(GIVEN)})],
                   ({_sql_array(FAMILY)})[1 + mod(g / {len(GIVEN)}, {len(FAMILY)})],
                   date '1940-01-01' + mod(g * 37, 25000),
                   (ARRAY['female', 'male', 'intersex', 'unknown'])[1 + mod(g, 4)],
                   NULL, NULL, NULL, 'active', NULL, 1, now(), now()
            FROM generate_series(1, %(patients)s::int) AS g
            """,
            {"heavy_mrn": HEAVY_MRN, "prefix": MRN_PREFIX, "patients": patients},
        )
        _log(f"{patients:,} patients")
        # The panel: the heavy patient and the first panel-1 numbered ones, in MRN order.
        cursor.execute(
            """
            INSERT INTO patients_careteammembership (patient_id, clinician_id, role, created_at)
            SELECT id, CASE WHEN n <= %(panel)s THEN %(clinician)s ELSE %(other)s END, 'primary', now()
            FROM (SELECT id, row_number() OVER (ORDER BY mrn = %(heavy_mrn)s DESC, mrn) AS n
                  FROM patients_patient WHERE mrn LIKE 'BENCH-%%' AND mrn NOT LIKE 'BENCH-SCALE-%%') AS p
            """,
            {"panel": panel, "clinician": clinician.pk, "other": other.pk, "heavy_mrn": HEAVY_MRN},
        )
        _log(f"care teams: {panel:,} for {CLINICIAN}")
        cursor.execute("SELECT id FROM patients_patient WHERE mrn = %s", [HEAVY_MRN])
        heavy_id = cursor.fetchone()[0]
        _insert_interactions(
            cursor, patient_sql=f"'{heavy_id}'::uuid", count=heavy, actor_id=clinician.pk, label="heavy patient"
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_numbered ON COMMIT DROP AS "
            "SELECT id, (row_number() OVER (ORDER BY mrn)) - 1 AS n FROM patients_patient "
            "WHERE mrn LIKE 'BENCH-%' AND mrn NOT LIKE 'BENCH-SCALE-%'"
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_numbered (n)")
        _insert_interactions(
            cursor,
            patient_sql=f"(SELECT id FROM bench_numbered WHERE n = mod(g, {patients}))",
            count=interactions - heavy,
            actor_id=clinician.pk,
            label="spread",
        )
        _set_marker(cursor, "main", wanted)
    _analyze()
    _log(f"seeded in {time.monotonic() - started:.0f} s")


def seed_scale_patient(count: int) -> str:
    """A panel patient with exactly `count` interactions (for the scale run); returns its id."""
    mrn = SCALE_MRN.format(count)
    name = f"scale-{count}"
    clinician = _clinician(CLINICIAN)
    if _marker(name) is None:
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                "INSERT INTO patients_patient (id, mrn, given_name, family_name, date_of_birth, sex, status, version, created_at, updated_at) "
                "VALUES (gen_random_uuid(), %s, 'Scale', 'Bench', '1980-01-01', 'unknown', 'active', 1, now(), now()) "
                "ON CONFLICT (mrn) DO NOTHING",
                [mrn],
            )
            cursor.execute("SELECT id FROM patients_patient WHERE mrn = %s", [mrn])
            patient_id = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO patients_careteammembership (patient_id, clinician_id, role, created_at) "
                "VALUES (%s, %s, 'primary', now()) ON CONFLICT DO NOTHING",
                [patient_id, clinician.pk],
            )
            _insert_interactions(
                cursor, patient_sql=f"'{patient_id}'::uuid", count=count, actor_id=clinician.pk, label=mrn
            )
            _set_marker(cursor, name, {"patient": str(patient_id), "interactions": count})
        _analyze()
        _log(f"{mrn} seeded in {time.monotonic() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM patients_patient WHERE mrn = %s", [mrn])
        return str(cursor.fetchone()[0])


def _analyze():
    # Fresh statistics and a set visibility map, as a long-running database would have.
    with connection.cursor() as cursor:
        for table in ("patients_patient", "patients_careteammembership", "interactions_interactionlog"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def panel_ids() -> list[str]:
    """The bench clinician's panel without the heavy and scale patients (load is spread over these)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.id FROM patients_patient p JOIN patients_careteammembership m ON m.patient_id = p.id "
            "JOIN users_user u ON u.id = m.clinician_id "
            "WHERE u.username = %s AND p.mrn LIKE 'BENCH-%%' AND p.mrn <> %s AND p.mrn NOT LIKE 'BENCH-SCALE-%%' ORDER BY p.mrn",
            [CLINICIAN, HEAVY_MRN],
        )
        return [str(row[0]) for row in cursor.fetchall()]


def heavy_patient_id() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM patients_patient WHERE mrn = %s", [HEAVY_MRN])
        return str(cursor.fetchone()[0])
