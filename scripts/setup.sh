#!/usr/bin/env bash
# Installs everything the suite needs on a fresh Debian 12 machine (run as root):
# Debian packages (Qt runtime libraries, libVLC, ffmpeg, CJK fonts, Chromium, nginx, PostgreSQL,
# zbar, espeak-ng) and a virtual environment at .venv/ with the project in editable mode,
# pinned by constraints.txt. Idempotent and fast on a second run.
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

APT_PACKAGES=(
  libegl1 libgl1 libgl1-mesa-dri libglib2.0-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core fonts-noto-cjk
  libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
  libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1
  libpulse0 libvlc5 vlc-plugin-base ffmpeg espeak-ng libzbar0 zbar-tools
  python3-venv
  libicu-dev pkg-config g++  # PyICU builds against the system ICU
)
if [[ $WITH_TEST == 1 ]]; then
  APT_PACKAGES+=(chromium xvfb xauth nginx-light postgresql wrk)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
extras="."
[[ $WITH_TEST == 1 ]] && extras=".[test]"
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-$WITH_TEST"
if [[ ! -f "$stamp" ]]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e "$extras"
  touch "$stamp"
fi
