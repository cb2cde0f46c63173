#!/usr/bin/env bash
# Checks (and where it can, installs) what st2-rs needs, then builds it.
#   bash scripts/setup.sh          # check/install, then build the release binaries (target/release)
#   bash scripts/setup.sh --ci     # only check/install what building and testing need
#
# It works on a stock Debian 12 or Ubuntu 24.04 as on a machine with its own Python: system
# packages come from apt-get (when run as root; otherwise it says what to install), and the
# Python tools the tests and the demo use (PyYAML, the reference YAML loader; uv, the fast
# virtualenv tool) go into a private virtualenv, target/tools/venv. Nothing is installed into
# the system Python with pip (PEP 668 forbids it on current distributions).
# scripts/env.sh puts that virtualenv first on PATH (scripts/test.sh and scripts/demo.sh source
# it), so the tests' `python3` has PyYAML and Jinja2, and st2 finds uv.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

apt_updated=
apt_install() {
    # Installs Debian/Ubuntu packages when we are root with apt-get; otherwise says what to install.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing $* (apt-get install)"
        if [ -z "$apt_updated" ] && ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
            apt_updated=1
            say "updating the package lists (apt-get update)"
            apt-get update -qq >/dev/null || die "apt-get update failed; check the network or the apt sources"
        else
            return 0
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
            || die "apt-get install $* failed"
    else
        die "missing: $*; install them (sudo apt-get install $*) and run this again"
    fi
}

# Building: Rust, a C compiler (SQLite, libgit2, zlib and ring are compiled in; libc6-dev's
# libc.a links the static release binary), git. No OpenSSL: TLS is rustls.
command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (https://rustup.rs) and run this again"
command -v cc >/dev/null 2>&1 || apt_install gcc libc6-dev
command -v make >/dev/null 2>&1 || apt_install make
command -v git >/dev/null 2>&1 || apt_install git
command -v pkg-config >/dev/null 2>&1 || apt_install pkg-config
command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates

# Running: python3 with its venv module (pack virtualenvs, the demo, the tests).
command -v python3 >/dev/null 2>&1 || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
python3 -c 'import venv, ensurepip' 2>/dev/null \
    || die "python3 cannot create virtualenvs; install python3-venv (sudo apt-get install python3-venv)"

# The remote runners' tests: OpenSSH's client and server (the tests start their own sshd on
# loopback addresses), and sudo for core.remote_sudo.
if [ "${1:-}" = "--ci" ]; then
    { command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; } || apt_install openssh-client
    [ -x /usr/sbin/sshd ] || apt_install openssh-server
    [ -x /usr/sbin/sshd ] || die "sshd not found; install openssh-server (sudo apt-get install openssh-server)"
    command -v sudo >/dev/null 2>&1 || apt_install sudo
    # The packaging test installs the .deb and reads `man st2` (tests/it/packaging.rs).
    command -v man >/dev/null 2>&1 || apt_install man-db
    command -v strip >/dev/null 2>&1 || apt_install binutils
fi

# The private tools virtualenv: PyYAML 6.0.3 with libyaml (StackStorm 3.9.0's YAML loader, which
# the YAML tests compare against), Jinja2 (the template tests' reference) and uv (pack virtualenvs about ten times faster; st2 falls back
# to python3 -m venv + pip without it).
tools=target/tools
venv="$tools/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    say "creating the private tools virtualenv $venv (python3 -m venv)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv $venv failed; install python3-venv and run this again"
fi
needed=()
"$venv/bin/python" -c 'import sys, yaml; sys.exit(yaml.__version__ != "6.0.3" or not yaml.__with_libyaml__)' \
    2>/dev/null || needed+=("pyyaml==6.0.3")
"$venv/bin/python" -c 'import jinja2' 2>/dev/null || needed+=(jinja2)
if [ ${#needed[@]} -gt 0 ]; then
    say "installing ${needed[*]} into $venv (pip, from PyPI)"
    "$venv/bin/pip" install --disable-pip-version-check --progress-bar off -q "${needed[@]}" \
        || die "could not install ${needed[*]} from PyPI into $venv; check the network and run this again"
fi
if [ ! -x "$venv/bin/uv" ]; then
    say "installing uv into $venv (pip, from PyPI)"
    "$venv/bin/pip" install --disable-pip-version-check --progress-bar off -q uv \
        || say "warning: could not install uv; pack virtualenvs will be made with pip (slower)"
fi

if [ "${1:-}" = "--ci" ]; then
    say "dependencies ready"
    exit 0
fi
say "building st2 and st2ctl (cargo build --release --locked; the first build takes several minutes)"
cargo build --release --locked
say "ready: target/release/st2, target/release/st2ctl"
