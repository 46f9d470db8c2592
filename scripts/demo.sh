#!/usr/bin/env bash
# The main job: installs what it needs, seeds a demo (SQLite + files under var/), starts the
# content server on 127.0.0.1:8080, an outdoor player, a lobby player and a kiosk. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/signage-demo "$@"
