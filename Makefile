# Two commands a new user needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test soak torture fuzz lint format check bench install schema rehearsal

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-validators.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	# The release validators, in a venv of their own (see requirements-validators.txt).
	test -x $(VENV)/validators/bin/python || $(PY) -m venv $(VENV)/validators
	$(VENV)/validators/bin/python -m pip install --quiet --disable-pip-version-check \
	  -r requirements-validators.txt
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed  ## SQLite, local storage, demo photos; serves on 127.0.0.1:8000
	PY=$(PY) bash scripts/demo.sh

test: $(VENV)/.installed  ## the whole suite (SQLite unless DATABASE_URL says otherwise)
	$(PY) -m pytest

SOAK_EXAMPLES ?= 10000
soak: $(VENV)/.installed  ## the lifecycle state machine on purpose: many random sequences
	KEEPSAKE_SOAK_EXAMPLES=$(SOAK_EXAMPLES) $(PY) -m pytest -q -s -p no:cacheprovider \
	  tests/stateful/test_lifecycle_machine.py

torture: $(VENV)/.installed  ## concurrency torture (4 processes, 120 s) and crash injection; PostgreSQL in DATABASE_URL
	$(PY) bench/torture.py --processes 4 --seconds 120
	$(PY) -m pytest -q tests/crash

FUZZ_EXAMPLES ?= 1000
fuzz: $(VENV)/.installed  ## hostile files at length: random mutations and malformed kinds through probe, ingest, upload
	KEEPSAKE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) KEEPSAKE_FUZZ_RANDOM=1 $(PY) -m pytest -q -s \
	  -p no:cacheprovider tests/fuzz

REHEARSAL_ARGS ?= --assets 100000
rehearsal: $(VENV)/.installed  ## the whole system on loopback (PostgreSQL, Redis, S3) at scale; REHEARSAL_ARGS="--assets 10000000"
	$(PY) bench/rehearsal.py $(REHEARSAL_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: $(VENV)/.installed  ## migrations in step with models, deploy checks
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=ci-$$(date +%s)-not-a-real-secret-key-0123456789abcdef \
	  DJANGO_ALLOWED_HOSTS=localhost $(PY) manage.py check --deploy --fail-level WARNING

schema: $(VENV)/.installed  ## regenerate the committed OpenAPI schema
	$(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yml
