#!/usr/bin/env bash
# Checks (and where it can, installs) what st2-rs needs, then builds it.
#   bash scripts/setup.sh          # check + build release binaries into target/release
#   bash scripts/setup.sh --ci     # only check/install what building and testing need (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

apt_install() {
    # Installs Debian packages when we are root with apt-get; otherwise says what to install.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing $* with apt-get"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
            apt-get update -qq >/dev/null 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
        fi
    else
        die "missing: $*; install them (e.g. sudo apt-get install $*) and run this again"
    fi
}

command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (https://rustup.rs) and run this again"
command -v git >/dev/null 2>&1 || apt_install git
command -v pkg-config >/dev/null 2>&1 || apt_install pkg-config
pkg-config --exists openssl 2>/dev/null || apt_install libssl-dev

# Python 3 is needed only for packs with Python actions (their virtualenvs), and by the tests.
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
    # uv makes pack virtualenvs about ten times faster; st2 falls back to pip without it.
    if ! command -v uv >/dev/null 2>&1; then
        say "installing uv from PyPI (pip install uv)"
        python3 -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1 \
            || say "could not install uv; pack virtualenvs will use pip"
        command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
    fi
    # PyYAML is the reference the YAML parity test compares against.
    python3 -c 'import yaml' 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check pyyaml >/dev/null
    # Jinja2 is the reference the parameter rendering differential test compares against.
    python3 -c 'import jinja2' 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check jinja2 >/dev/null
else
    apt_install python3 python3-venv python3-pip
fi

if [ "${1:-}" = "--ci" ]; then
    say "dependencies ready"
    exit 0
fi
say "building st2 and st2ctl (cargo build --release --locked)"
cargo build --release --locked --quiet
say "ready: target/release/st2, target/release/st2ctl"
