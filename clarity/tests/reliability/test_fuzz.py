"""Schemathesis against /api/schema/ on the production server, with a real token for
each role: zero 5xx and zero responses that break the documented schema.
"""

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from clarity.tests.reliability.harness import seed_world

pytestmark = pytest.mark.postgres_only

ROLES = ("admin", "clinician", "patient", "researcher")
# Per role; a seed keeps CI reproducible (set FUZZ_SEED to explore other inputs).
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
# Seconds per role: the coverage phase alone (every boundary value of every parameter)
# takes ~30 s for the admin's 23 operations, so the budget, not the example count, bounds CI.
MAX_SECONDS = int(os.environ.get("FUZZ_SECONDS_PER_ROLE", "15"))
SEED = os.environ.get("FUZZ_SEED", "6")
MIN_REQUESTS = 1000


@pytest.fixture(scope="module")
def fuzz_world(direct_env):
    # Its own users and tokens: whatever the fuzzer does to them stays here.
    return seed_world(direct_env, patients=2)


def run_schemathesis(server, token: str, report: Path) -> subprocess.CompletedProcess:
    # Run in the report's folder: schemathesis keeps a cache directory in its working directory.
    command = [
        str(Path(sys.executable).parent / "st"), "run", f"{server.url}/api/schema/",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--header", f"Authorization: Bearer {token}",
        "--max-examples", str(MAX_EXAMPLES), "--seed", SEED, "--workers", "1",
        "--phases", "coverage,fuzzing",
        "--request-timeout", "15", "--max-time", str(MAX_SECONDS), "--no-shrink",
        # Logging out would revoke the fuzzer's own token halfway through the run.
        "--exclude-path", "/api/v1/auth/logout/",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--output-truncate", "true", "--warnings", "off",
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    return subprocess.run(command, cwd=report.parent, env=env, capture_output=True, text=True, timeout=300)


def statuses(report: Path) -> Counter:
    """Status codes of every response recorded in schemathesis' NDJSON event report."""
    return Counter(int(code) for code in re.findall(rb'"status_code":\s*(\d+)', report.read_bytes()))


def test_fuzzed_requests_for_every_role_get_no_5xx_and_no_schema_violations(server, fuzz_world, tmp_path):
    seen = Counter()
    started = time.monotonic()
    for role in ROLES:
        report = tmp_path / f"{role}.ndjson"
        result = run_schemathesis(server, fuzz_world["tokens"][role], report)
        assert result.returncode == 0, f"{role}:\n" + result.stdout[-8000:] + result.stderr[-2000:]
        seen += statuses(report)
    total = sum(seen.values())
    sys.stdout.write(
        f"\nfuzz: {total} requests in {time.monotonic() - started:.0f}s, statuses {dict(sorted(seen.items()))}\n"
    )
    assert total >= MIN_REQUESTS
    assert not [code for code in seen if code >= 500]
