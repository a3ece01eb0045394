"""The last thing `make run` prints before the server starts: where everything is, and how to sign in.

`python scripts/run_banner.py HOST PORT`. No database access: the demo passwords are
printed by `seed_demo` when the accounts are created (above this banner on a first run),
and `seed_demo --reset-passwords` prints new ones when that output is gone.
"""

import sys


def banner(host: str, port: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a display name for a wildcard bind
    base = f"http://{shown}:{port}"
    return f"""
------------------------------------------------------------------------------
 Clarity (development server, DEBUG) on {base}

   API            {base}/api/v1/
   API docs       {base}/api/docs/        (Authorize with a bearer token)
   Staff review   {base}/admin/           (sign in as demo-admin)
   Health         {base}/health/ready/

 Demo accounts: demo-admin, demo-clinician, demo-patient, demo-researcher.
 Their passwords are printed once, when the accounts are created (above, on a
 first run). Lost them? New ones:  .venv/bin/python manage.py seed_demo --reset-passwords

 One JSON access line per request below (no query strings). Stop with Ctrl-C.
------------------------------------------------------------------------------
"""


if __name__ == "__main__":
    sys.stdout.write(banner(*sys.argv[1:3]))
