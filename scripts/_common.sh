# shellcheck shell=bash
# Helpers shared by scripts/run and scripts/test. Source it; do not run it.
#
#   say MESSAGE...            one progress line on stderr ("==> ...")
#   warn / die MESSAGE...     a warning; an error that exits 1
#   ensure_venv               .venv exists and holds the project (reinstalls only when
#                             pyproject.toml, the extras or the Python version changed)
#   ensure_apt_packages PKG[:BINARY]...
#                             installs the Debian packages whose BINARY (default: PKG) is
#                             missing; one `apt-get update` at most per script run.
#                             Returns non-zero if something is still missing.
#   have_binary NAME          NAME on PATH, in /usr/lib/postgresql/*/bin, or in /usr/sbin
#   free_port                 prints a free TCP port on 127.0.0.1

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
VENV_PY="$VENV/bin/python"
# One set of extras for run and test, so that switching between them never reinstalls.
PROJECT_EXTRAS="postgres,dev"
INSTALL_STAMP="$VENV/.shulian-install-stamp"
MIN_PYTHON="3.11"

say() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# --- Python and the virtual environment --------------------------------------------------

_python_ok() {
    # True if "$1" runs and is Python >= MIN_PYTHON.
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in "${SHULIAN_PYTHON:-}" python3.11 python3 python3.12 python3.13 python3.14; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if _python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

_create_venv() {
    local python version
    python="$(find_python)" || die "Python $MIN_PYTHON or newer not found (tried python3.11, python3, python3.12+; set SHULIAN_PYTHON to choose one)"
    version="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
    say "Creating virtual environment .venv with $python (Python $version)"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
        # Debian's own python3 ships venv/ensurepip in a separate package.
        rm -rf "$VENV"
        local minor
        minor="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        warn "'$python -m venv' failed; trying Debian's python$minor-venv package"
        ensure_apt_packages "python$minor-venv:/usr/lib/python$minor/ensurepip/__init__.py" \
            || die "cannot create a virtual environment with $python (install python$minor-venv)"
        "$python" -m venv "$VENV" || die "cannot create a virtual environment with $python"
    fi
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check --upgrade pip \
        || warn "could not upgrade pip in .venv; continuing with $("$VENV_PY" -m pip --version)"
}

_install_fingerprint() {
    "$VENV_PY" - "$REPO_ROOT/pyproject.toml" "$PROJECT_EXTRAS" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    h.update(f.read())
h.update(b"\0" + sys.argv[2].encode() + b"\0" + sys.version.encode())
print(h.hexdigest())
PY
}

_project_installed() {
    "$VENV_PY" -c 'import importlib.metadata as m; m.version("shulian")' >/dev/null 2>&1
}

_ensure_venv_locked() {
    if [ ! -x "$VENV_PY" ] || ! _python_ok "$VENV_PY"; then
        _create_venv
    fi
    local want have=""
    want="$(_install_fingerprint)"
    [ -f "$INSTALL_STAMP" ] && have="$(cat "$INSTALL_STAMP")"
    if [ "$want" = "$have" ] && _project_installed; then
        say "Project already installed in .venv (pyproject.toml unchanged)"
        return 0
    fi
    say "Installing the project into .venv: pip install -e \".[$PROJECT_EXTRAS]\" (first time takes a minute or two)"
    rm -f "$INSTALL_STAMP"
    local started=$SECONDS
    (cd "$REPO_ROOT" && "$VENV_PY" -m pip install --quiet --disable-pip-version-check \
        -e ".[$PROJECT_EXTRAS]") || die "pip install failed (see above)"
    printf '%s\n' "$want" >"$INSTALL_STAMP"
    say "Installed in $((SECONDS - started))s"
}

ensure_venv() {
    # Serialise concurrent scripts/run and scripts/test on one checkout.
    # The lock file lives outside the checkout so that it never shows up in git status.
    if command -v flock >/dev/null 2>&1; then
        local lock
        lock="${TMPDIR:-/tmp}/shulian-venv-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1).lock"
        (
            flock -w 900 9 || die "timed out waiting for another install into .venv"
            _ensure_venv_locked
        ) 9>"$lock"
    else
        _ensure_venv_locked
    fi
}

# --- Debian packages -----------------------------------------------------------------------

have_binary() {
    # NAME on PATH, or in a Debian directory that is not on PATH; an absolute path is
    # checked as a file.
    local name="$1" dir
    case "$name" in
        /*) [ -e "$name" ]; return ;;
    esac
    command -v "$name" >/dev/null 2>&1 && return 0
    for dir in /usr/lib/postgresql/*/bin /usr/sbin /sbin; do
        [ -x "$dir/$name" ] && return 0
    done
    return 1
}

_APT_UPDATED=""

_as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        warn "need root to run: $*"
        return 1
    fi
}

ensure_apt_packages() {
    # ensure_apt_packages postgresql:initdb redis-server chromium fonts-noto-cjk:/usr/share/fonts/opentype/noto
    local spec pkg bin missing=()
    for spec in "$@"; do
        pkg="${spec%%:*}"
        bin="${spec#*:}"
        have_binary "$bin" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        warn "missing ${missing[*]} and apt-get is not available; install them by hand"
        return 1
    fi
    say "Installing Debian packages: ${missing[*]}"
    local apt_opts=(-y -q -o DPkg::Lock::Timeout=600)
    if [ -z "$_APT_UPDATED" ]; then
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update >/dev/null \
            || { warn "apt-get update failed"; return 1; }
        _APT_UPDATED=1
    fi
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install \
        --no-install-recommends "${missing[@]}" >/dev/null \
        || { warn "apt-get install ${missing[*]} failed"; return 1; }
    for spec in "$@"; do
        bin="${spec#*:}"
        have_binary "$bin" || { warn "${spec%%:*} installed but $bin is still missing"; return 1; }
    done
}

# --- Misc ----------------------------------------------------------------------------------

free_port() {
    "${VENV_PY:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}
