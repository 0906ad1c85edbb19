#!/usr/bin/env bash
# Create .venv-bench (idempotent) with bluetooth-sig 0.6.0, the baseline for bench_decode.py.
# Kept apart from .venv so the baseline never leaks into Home Assistant's environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-bench"
PIN="bluetooth-sig==0.6.0"
# The pure core imports pyotp and cryptography (medical/security.py); same pins as HA 2025.4.4.
EXTRA=(pyotp==2.8.0 cryptography==44.0.1)

pick_python() {
  local cand
  for cand in "$ROOT/.venv/bin/python" /root/.pyenv/versions/3.13*/bin/python3 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 \
      && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      command -v "$cand"; return 0
    fi
  done
  echo "no Python >= 3.10 found" >&2; return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  py="$(pick_python)"
  echo ">> creating $VENV with $py"
  "$py" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("bluetooth-sig") != "0.6.0")' 2>/dev/null; then
  echo ">> installing $PIN into $VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$PIN"
fi
if ! "$VENV/bin/python" -c "import pyotp, cryptography" 2>/dev/null; then
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${EXTRA[@]}"
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("bluetooth-sig", m.version("bluetooth-sig"))'
