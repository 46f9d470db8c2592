#!/usr/bin/env bash
# The whole test suite: installs what it needs (scripts/setup.sh --test), lints, type-checks and
# checks the import contracts, then runs pytest.
# Tests start their own servers (content server, PostgreSQL, nginx) on loopback and temp dirs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/ruff check schedules content_server signage_player kiosk_app signage_demo tests bench
.venv/bin/mypy  # the five packages (pyproject.toml [tool.mypy])
.venv/bin/lint-imports  # the layering contracts (pyproject.toml [tool.importlinter])
set +e
# both cores: a test file stays on one worker, so its module-wide servers start once
.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
rc=$?
set -e
if [[ $rc == 5 ]]; then echo "pytest collected no tests"; exit 1; fi
exit $rc
