"""Write a git-ignored `.env` with development settings, once, so `make run` just works.

Random secrets are generated here on the developer's machine; nothing secret is in git.
An existing `.env` is left alone (only missing variables are appended).
"""

import base64
import secrets
import sys
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"

DEFAULTS = {
    "DJANGO_DEBUG": lambda: "true",
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "AUDIT_HMAC_KEY": lambda: secrets.token_hex(32),
    "PHI_ENCRYPTION_KEYS": lambda: "dev1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
    "PHI_BLIND_INDEX_KEY": lambda: secrets.token_hex(32),
}


def main(env_file: Path = ENV_FILE):
    existing = {}
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                existing[key.strip()] = value
    missing = {key: make() for key, make in DEFAULTS.items() if key not in existing}
    if missing:
        with env_file.open("a") as fh:
            if not existing:
                fh.write("# Local development settings written by `make run` (git-ignored).\n")
            for key, value in missing.items():
                fh.write(f"{key}={value}\n")
        env_file.chmod(0o600)
        print(f"Wrote {', '.join(missing)} to {env_file.name}")


if __name__ == "__main__":
    # An optional path writes elsewhere (CI's migration gate uses a throwaway file).
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ENV_FILE)
