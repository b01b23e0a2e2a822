#!/usr/bin/env bash
# The demo: SQLite and local storage under var/, the roles and one user per role (passwords
# and API tokens printed, tokens also in var/demo-tokens.sh), demo photos with generated copies,
# an admin user, a django-q2 cluster, and the server on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# The demo asks for DEBUG (static files from runserver, plain HTTP); nothing else does.
export DJANGO_DEBUG=1
PORT=${KEEPSAKE_DEMO_PORT:-8000}

$PY manage.py migrate --noinput -v0
$PY manage.py demo_setup
$PY manage.py setup_schedules
$PY manage.py qcluster >var/qcluster.log 2>&1 &
QCLUSTER=$!
trap 'kill $QCLUSTER 2>/dev/null || true' EXIT INT TERM
echo "django-q2 cluster running (pid $QCLUSTER, log var/qcluster.log)"
echo "Open http://127.0.0.1:$PORT/admin/ — stop with Ctrl-C"
$PY manage.py runserver "127.0.0.1:$PORT" --noreload
