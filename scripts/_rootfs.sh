# The newer half: Debian sid (Python 3.14) in a root filesystem cached outside the clone,
# entered with chroot in a private mount namespace (the bind mounts vanish with the process,
# so concurrent runs do not disturb each other). Sourced after _env.sh, not executed.
# Needs root, unshare/chroot and debootstrap (installed with apt-get when missing).

CACHE="${SMART_CARE_CACHE:-/var/cache/smart-care}"
ROOTFS="$CACHE/rootfs-sid"
DEBIAN_MIRROR="${SMART_CARE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Python for HA, curl for the documented webhook example, the browser test's chromium, node
# for the clinic's FHIR server, the JPEG library mobile_app's camera proxy loads, a compiler
# for the few requirements without wheels for Python 3.14 (pymicro-vad, pyspeex-noise:
# assist_pipeline, loaded with mobile_app).
ROOTFS_PACKAGES="python3.14 python3.14-venv python3.14-dev g++ ca-certificates curl chromium chromium-driver fonts-wqy-zenhei nodejs libturbojpeg0"
ROOTFS_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Why the rootfs cannot be built or entered here (empty when it can).
rootfs_unavailable() {
  if [ "$(id -u)" != 0 ]; then echo "not root"; return; fi
  local tool
  for tool in unshare chroot mount; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing"; return; }
  done
  if [ ! -f "$ROOTFS/.smart-care-rootfs" ] && ! command -v debootstrap >/dev/null 2>&1 \
    && ! command -v apt-get >/dev/null 2>&1; then
    echo "neither debootstrap nor apt-get to install it"
  fi
}

# Host directories the pip configuration points at (a local index or wheel folder): they
# are bind-mounted read-only so pip in the rootfs reaches the same registry as on the host
# (a local simple index with its files beside it: the folder above simple/).
_pip_local_dirs() {
  {
    printf '%s\n' "${PIP_FIND_LINKS:-}" "${PIP_INDEX_URL:-}" "${PIP_EXTRA_INDEX_URL:-}"
    cat /etc/pip.conf /etc/xdg/pip/pip.conf "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf" \
      2>/dev/null || true
  } | grep -oE '(file://)?/[^ "]+' | sed -e 's|^file://||' -e 's|/simple/*$||' | while read -r path; do
    [ -d "$path" ] && echo "$path"
  done | sort -u
}

_pip_config_files() {
  local f
  for f in /etc/pip.conf /etc/xdg/pip "$HOME/.config/pip" "$HOME/.pip"; do
    [ -e "$f" ] && echo "$f"
  done
  return 0
}

# Copy what the host knows about the network into the rootfs: DNS, CA bundle, pip config.
_rootfs_sync_host_config() {
  local dir="$1" f
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$dir/etc/ssl/certs"
    cp -L /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  fi
  while read -r f; do
    [ -n "$f" ] || continue
    mkdir -p "$dir$(dirname "$f")"
    rm -rf "${dir:?}$f"
    cp -rL "$f" "$dir$f"
  done < <(_pip_config_files)
}

# Run a command in the rootfs at DIR, from the current directory (the clone is mounted at
# the same path inside). Environment: a clean one plus PIP_*, SMART_CARE_*, TZ, TERM.
_chroot_run() {
  local dir="$1"; shift
  local keep=() name
  while IFS='=' read -r name _; do
    case "$name" in
      PIP_*|SMART_CARE_*|TZ|TERM|COLUMNS) keep+=("$name=${!name}") ;;
    esac
  done < <(env)
  unshare --mount --propagation private -- bash -euc '
    dir="$1"; root="$2"; cwd="$3"; locals="$4"; shift 4
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    mount --rbind /sys "$dir/sys"
    if [ -n "$root" ]; then mkdir -p "$dir$root"; mount --bind "$root" "$dir$root"; fi
    for d in $locals; do mkdir -p "$dir$d"; mount --bind -o ro "$d" "$dir$d"; done
    exec chroot "$dir" /usr/bin/env -i "$@"
  ' _ "$dir" "${ROOT:-}" "$PWD" "$(_pip_local_dirs | tr '\n' ' ')" \
    HOME=/root LANG=C.UTF-8 PATH="$ROOTFS_PATH" "${keep[@]}" \
    /bin/bash -c 'cd "$1" && shift && exec "$@"' _ "$PWD" "$@"
}

# Build the rootfs once (cached in $CACHE for every later clone), refresh host config.
ensure_rootfs() {
  local why
  why="$(rootfs_unavailable)"
  if [ -n "$why" ]; then
    echo "cannot build the Python 3.14 rootfs: $why" >&2
    return 1
  fi
  mkdir -p "$CACHE"
  (
    flock 9
    if [ "$(cat "$ROOTFS/.smart-care-rootfs" 2>/dev/null || true)" != "$ROOTFS_PACKAGES" ]; then
      local tmp="$ROOTFS.tmp" started=$SECONDS
      # An existing rootfs only lacks packages: add them in place.
      [ -x "$ROOTFS/usr/bin/python3.14" ] && tmp="$ROOTFS"
      echo ">> building the Debian sid rootfs with Python 3.14 in $ROOTFS (once, about 2 minutes)"
      if ! command -v debootstrap >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
      fi
      if [ ! -x "$tmp/usr/bin/python3.14" ]; then
        rm -rf "$tmp"
        debootstrap --variant=minbase --include=python3.14,python3.14-venv,ca-certificates \
          sid "$tmp" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
          || { echo "debootstrap failed, see $CACHE/debootstrap.log" >&2; exit 1; }
      fi
      _rootfs_sync_host_config "$tmp"
      # sid's Release file may be older than its Valid-Until on a mirror snapshot.
      # shellcheck disable=SC2086
      (cd / && ROOT="" _chroot_run "$tmp" env DEBIAN_FRONTEND=noninteractive sh -c \
        "apt-get -qq -o Acquire::Check-Valid-Until=false update \
         && apt-get install -y -qq --no-install-recommends $ROOTFS_PACKAGES >/dev/null" \
        >"$CACHE/apt.log" 2>&1) \
        || { echo "apt-get in the rootfs failed, see $CACHE/apt.log" >&2; exit 1; }
      if [ "$tmp" != "$ROOTFS" ]; then
        rm -rf "$ROOTFS"
        mv "$tmp" "$ROOTFS"
      fi
      echo "$ROOTFS_PACKAGES" >"$ROOTFS/.smart-care-rootfs"
      echo "   built in $((SECONDS - started)) s"
    fi
    _rootfs_sync_host_config "$ROOTFS"
  ) 9>"$CACHE/.lock"
}

# The newer side's venv inside the rootfs, one per set of pins (so clones on different
# branches can share the cache). Prints its path inside the rootfs.
ensure_rootfs_venv() {
  local want venv
  want="$(requirements_hash newest)"
  venv="/opt/smart-care/venv-${want:0:16}"
  (
    flock 9
    if [ ! -f "$ROOTFS$venv/.complete" ]; then
      echo ">> installing requirements/newest.txt into the rootfs ($venv; first run about a minute)" >&2
      rm -rf "${ROOTFS:?}$venv"
      _chroot_run "$ROOTFS" sh -c "python3.14 -m venv '$venv' \
        && '$venv/bin/python' -m pip install -q --upgrade pip \
        && '$venv/bin/python' -m pip install -q -r requirements/newest.txt \
        && touch '$venv/.complete'" >&2 \
        || { echo "installing into the rootfs venv failed" >&2; exit 1; }
    fi
  ) 9>"$CACHE/.lock" || return 1
  echo "$venv"
}

# Run a command in the rootfs with the newer side's venv first on PATH.
in_rootfs() {
  local venv
  venv="$(ensure_rootfs_venv)" || return 1
  ROOTFS_PATH="$venv/bin:$ROOTFS_PATH" _chroot_run "$ROOTFS" env VIRTUAL_ENV="$venv" "$@"
}

# ---------------------------------------------------------------- the newest side, anywhere

NEWEST_PYTHON_MIN="3.14.2"  # what the newest HA requires

# A Python >= 3.14.2 on this machine, if there is one (then no rootfs is needed).
native_newest_python() {
  local cand
  for cand in python3.15 python3.14 python3; do
    if command -v "$cand" >/dev/null 2>&1 \
      && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 14, 2) else 1)' \
        >/dev/null 2>&1; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

# Where the newest side runs: "native" or "rootfs"; prints why not when it cannot.
newest_where() {
  if [ -z "${SMART_CARE_FORCE_ROOTFS:-}" ] && native_newest_python >/dev/null; then
    echo native; return 0
  fi
  local why
  why="$(rootfs_unavailable)"
  if [ -n "$why" ]; then
    echo "no Python >= $NEWEST_PYTHON_MIN on this machine and the rootfs cannot be built ($why)" >&2
    return 1
  fi
  echo rootfs
}

# Run a command with the newest side's Python first on PATH (native venv or rootfs).
in_newest() {
  local where
  where="$(newest_where)" || return 1
  if [ "$where" = native ]; then
    local venv="$ROOT/.venv-newest" stamp want py
    stamp="$venv/.requirements.sha256"
    want="$(requirements_hash newest)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
      py="$(native_newest_python)"
      echo ">> installing requirements/newest.txt into $venv ($("$py" --version))" >&2
      rm -rf "$venv"
      "$py" -m venv "$venv"
      "$venv/bin/python" -m pip install -q --upgrade pip >&2
      "$venv/bin/python" -m pip install -q -r "$ROOT/requirements/newest.txt" >&2
      echo "$want" >"$stamp"
    fi
    PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" "$@"
  else
    ensure_rootfs || return 1
    in_rootfs "$@"
  fi
}
