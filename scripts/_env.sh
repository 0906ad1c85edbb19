# Shared by scripts/run and scripts/test: find Python >= 3.13 and keep .venv in step with
# requirements/oldest.txt (the oldest supported HA, on the host's Python).
# Sourced, not executed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

_is_py313() {
  # The pyenv shim refuses to run without PYENV_VERSION, so each candidate is actually run.
  "$@" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' >/dev/null 2>&1
}

find_python() {
  local cand
  for cand in python3.14 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && _is_py313 "$cand"; then
      command -v "$cand"; return 0
    fi
  done
  local roots=()
  command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root 2>/dev/null || true)")
  roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /opt/pyenv /usr/local/pyenv)
  local r
  for r in "${roots[@]}"; do
    [ -n "$r" ] || continue
    for cand in "$r"/versions/3.14*/bin/python3 "$r"/versions/3.13*/bin/python3; do
      if [ -x "$cand" ] && _is_py313 "$cand"; then echo "$cand"; return 0; fi
    done
  done
  for cand in /usr/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.14 /usr/local/bin/python3.14; do
    if [ -x "$cand" ] && _is_py313 "$cand"; then echo "$cand"; return 0; fi
  done
  return 1
}

# The pins of one side (oldest | newest) with the shared file they include (comments aside).
requirements_hash() {
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$ROOT/requirements/$1.txt" "$ROOT/requirements/dev.txt" \
    | sha256sum | cut -d' ' -f1
}

# The `homeassistant==` pin of one side.
ha_version() {
  sed -n 's/^homeassistant==//p' "$ROOT/requirements/$1.txt"
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ] || ! _is_py313 "$VENV/bin/python"; then
    local py
    if ! py="$(find_python)"; then
      cat >&2 <<'MSG'
Smart Care needs Python >= 3.13 (Home Assistant 2025.4.4 requires it) and none was found.
Tried: python3.14, python3.13, python3 on PATH, pyenv's versions/3.13*/3.14*, /usr/bin/python3.13.
Install one, e.g. `pyenv install 3.13.0` or `apt-get install python3.13 python3.13-venv`, then run again.
MSG
      exit 3
    fi
    echo ">> creating $VENV with $py ($("$py" --version 2>&1))"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha256"
  local want
  want="$(requirements_hash oldest)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo ">> installing pinned requirements into .venv (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$ROOT/requirements/oldest.txt"
    echo "$want" > "$stamp"
  fi
}
