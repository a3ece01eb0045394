# Clarity: two commands from a fresh clone. `make run` serves the app; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run serve test test-browser chromium install env lint bench bench-replicas bench-scale bench-admin soak clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# A git-ignored .env with development values (random secret and keys), made once.
env: install
	$(PY) scripts/dev_env.py

run: env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo --if-empty
	@$(PY) scripts/run_banner.py $(HOST) $(PORT)
	@# The app writes one JSON access line per request without the query string (PHI can be in
	@# it): uvicorn's own access log is off. No proxy in front here: X-Forwarded-* is not trusted.
	$(VENV)/bin/uvicorn clarity.asgi:application --host $(HOST) --port $(PORT) --lifespan off \
		--no-access-log --no-proxy-headers

# The production server: WORKERS uvicorn processes, one SO_REUSEPORT socket each,
# DJANGO_DEBUG=false, graceful shutdown on SIGTERM. Secrets come from the environment.
serve: install
	$(PY) -m clarity.serve --workers $(WORKERS) --host $(HOST) --port $(PORT)

# The browser tests (part of `make test`) drive Debian's Chromium; it is installed if missing.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
		apt-get update && apt-get install -y --no-install-recommends chromium; }

test: install chromium
	CLARITY_CHROMIUM=$(CHROMIUM) $(PY) -m pytest $(PYTEST_ARGS)

# Only the browser tests: headless Chromium against `python -m clarity.serve` on a fresh
# database (a scratch PostgreSQL database when DATABASE_URL is postgres://..., else a
# SQLite file). Screenshots of every page land in browser-screenshots/.
test-browser: install chromium
	CLARITY_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -m browser $(PYTEST_ARGS)

# Load benchmark on the production server and PostgreSQL (README, "Performance").
# DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clarity_bench; needs wrk.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)
	$(PY) -m bench.replicas

# Primary transactions per read with no replica vs one real streaming replica (a private
# primary + standby made with initdb/pg_basebackup in a temporary folder; docs/scaling.md).
bench-replicas: install
	$(PY) -m bench.replicas

# Interactions page latency at 10^5, 10^6, 10^7 interactions for one patient, with EXPLAIN.
bench-scale: install
	$(PY) -m bench.run --scale $(BENCH_ARGS)

# Staff-review list latency: 10,000 patients and 10^6 sealed audit events, production
# server over HTTP, median of 5 per list (README "Staff review"). Needs a PostgreSQL
# DATABASE_URL (default clarity_bench_admin, created and seeded once).
bench-admin: install
	$(PY) -m bench.admin_lists $(BENCH_ARGS)

# Soak: 64 clients, mixed reads/lists/writes/batches against the production server on a
# scratch PostgreSQL database (needs DATABASE_URL=postgres://...); fails on any error or
# >= 10 % RSS growth. SOAK_SECONDS=600 for a longer run.
SOAK_SECONDS ?= 60
soak: install
	$(PY) bench/soak.py --seconds $(SOAK_SECONDS)

lint: install
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) staticfiles browser-screenshots
