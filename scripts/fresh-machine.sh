#!/usr/bin/env bash
# The README's two commands on stock distributions, as a new user would run them: each
# distribution is made with debootstrap into target/fresh/<suite> (a minimal system: no
# Python, no git, no compiler), this repository is cloned into it (what is committed, not
# the work tree), ../shared is mounted beside it, and the machine's Rust toolchain is
# mounted read-only (the README assumes Rust is installed). Then, inside the chroot as root:
#   bash scripts/demo.sh && bash scripts/test.sh
#
#   sudo bash scripts/fresh-machine.sh               # Debian 12 (bookworm) and Ubuntu 24.04 (noble)
#   sudo bash scripts/fresh-machine.sh bookworm      # one of them
#
# Needs root (debootstrap, chroot, mounts) and the network to the distributions' mirrors,
# crates.io and PyPI. Behind a TLS-inspecting proxy, the host's own CA certificates
# (/usr/local/share/ca-certificates) and its CA variables (PIP_CERT, SSL_CERT_FILE, ...) are
# carried into the chroot: they describe the network, not the machine. A first run takes about half an hour per distribution (two release
# builds and the test suite on a new machine); the base systems are kept for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf 'fresh-machine: %s\n' "$*" >&2; }
die() { printf 'fresh-machine: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and bind mounts); run it with sudo"
[ -d ../shared/exchange ] || die "../shared not found beside the repository"
command -v debootstrap >/dev/null 2>&1 || {
    say "installing debootstrap (apt-get install)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
        || die "cannot install debootstrap; install it and run this again"
}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=$(dirname "$(command -v cargo)") || die "cargo not found; install Rust (https://rustup.rs)"
[ -d "$rustup_home" ] || die "no rustup toolchain in $rustup_home (set RUSTUP_HOME)"

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm noble)

mirror_of() {
    case "$1" in
        bookworm|trixie) echo http://deb.debian.org/debian ;;
        jammy|noble) echo http://archive.ubuntu.com/ubuntu ;;
        *) die "unknown suite $1 (bookworm, trixie, jammy or noble)" ;;
    esac
}

stock_sources() { # stock_sources SUITE MIRROR: the apt sources of a fresh installation
    case "$2" in
        *ubuntu*)
            printf 'deb %s %s main restricted universe multiverse\n' "$2" "$1"
            printf 'deb %s %s-updates main restricted universe multiverse\n' "$2" "$1"
            printf 'deb http://security.ubuntu.com/ubuntu %s-security main restricted universe multiverse\n' "$1"
            ;;
        *)
            printf 'deb %s %s main\n' "$2" "$1"
            printf 'deb %s %s-updates main\n' "$2" "$1"
            printf 'deb http://security.debian.org/debian-security %s-security main\n' "$1"
            ;;
    esac
}

mounts=()
cleanup() {
    local index
    for ((index = ${#mounts[@]} - 1; index >= 0; index--)); do
        umount -l "${mounts[index]}" 2>/dev/null || true
    done
    mounts=()
}
trap cleanup EXIT

bind() { # bind SOURCE TARGET [ro]
    mkdir -p "$2"
    mount --bind "$1" "$2"
    mounts+=("$2")
    [ "${3:-}" = ro ] && mount -o remount,bind,ro "$2"
    return 0
}

run_suite() {
    local suite=$1 mirror base root started status
    mirror=$(mirror_of "$suite")
    base="$repo/target/fresh/$suite.base"
    root="$repo/target/fresh/$suite"
    if [ ! -e "$base/.complete" ]; then
        say "$suite: debootstrap --variant=minbase from $mirror (a few minutes, once)"
        rm -rf "$base"
        local script=()
        # Older debootstraps lack a script for newer Ubuntu releases; theirs is gutsy's.
        [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=(/usr/share/debootstrap/scripts/gutsy)
        local keyring=()
        case "$mirror" in *ubuntu*) [ -e /usr/share/keyrings/ubuntu-archive-keyring.gpg ] \
            && keyring=(--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg) \
            || keyring=(--no-check-gpg) ;; esac
        debootstrap --variant=minbase ${keyring[@]+"${keyring[@]}"} "$suite" "$base" "$mirror" \
            ${script[@]+"${script[@]}"} >"$repo/target/fresh/$suite.debootstrap.log" 2>&1 \
            || die "$suite: debootstrap failed; see target/fresh/$suite.debootstrap.log"
        touch "$base/.complete"
    fi
    say "$suite: a new machine from the base system"
    rm -rf "$root"
    cp -a "$base" "$root"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # debootstrap configures the release's main component only; an installed system also has
    # its updates and security suites (and Ubuntu its universe, where python3-venv lives).
    stock_sources "$suite" "$mirror" > "$root/etc/apt/sources.list"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        mkdir -p "$root/usr/local/share/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    fi
    local network_env=() name
    for name in PIP_CERT SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE \
        GIT_SSL_CAINFO CARGO_HTTP_CAINFO HTTPS_PROXY HTTP_PROXY NO_PROXY https_proxy http_proxy no_proxy; do
        [ -n "${!name:-}" ] && network_env+=("$name=${!name}")
    done
    git clone -q "$repo" "$root/src/st2-rs"
    bind /proc "$root/proc"
    bind /dev "$root/dev"
    bind /dev/pts "$root/dev/pts"   # pseudo-terminals: the live-output tests open one
    bind /sys "$root/sys"
    bind "$(cd ../shared && pwd)" "$root/src/shared" ro
    bind "$rustup_home" "$root/opt/rustup" ro
    bind "$cargo_bin" "$root/opt/cargo-bin" ro
    say "$suite: bash scripts/demo.sh && bash scripts/test.sh (log: target/fresh/$suite.log)"
    started=$(date +%s)
    status=0
    chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/opt/cargo-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        RUSTUP_HOME=/opt/rustup CARGO_HOME=/root/.cargo ${network_env[@]+"${network_env[@]}"} \
        bash -c 'cd /src/st2-rs && bash scripts/demo.sh && bash scripts/test.sh' \
        >"$repo/target/fresh/$suite.log" 2>&1 || status=$?
    cleanup
    local took=$(( $(date +%s) - started ))
    if [ "$status" = 0 ]; then
        say "$suite: both README commands passed in $((took / 60)) min $((took % 60)) s"
    else
        tail -n 30 "$repo/target/fresh/$suite.log" >&2
        die "$suite: failed (exit $status) after $((took / 60)) min; see target/fresh/$suite.log"
    fi
}

mkdir -p target/fresh
for suite in "${suites[@]}"; do
    run_suite "$suite"
done
