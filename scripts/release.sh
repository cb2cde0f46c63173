#!/usr/bin/env bash
# Builds what a release ships, for Linux x86_64, into target/dist/:
#
#   st2-rs_<version>_amd64.deb            /usr/bin/st2, /usr/bin/st2ctl (a link to it), the
#                                         manual pages, bash/zsh/fish completions
#   st2-rs-<version>-x86_64-linux.tar.gz  the same files under st2-rs-<version>/ (bin/, share/),
#                                         with README.md and LICENSE
#   SHA256SUMS                            of both (sha256sum -c SHA256SUMS)
#
# The binary is self-contained: TLS (rustls), SQLite, libgit2 and zlib are compiled in and
# glibc is linked statically, so it runs on any x86_64 Linux (ldd: "not a dynamic
# executable"); one binary answers as `st2` or `st2ctl` by the name it is called by. Users,
# groups and hosts come from /etc/passwd, /etc/group, /etc/hosts and DNS (a static glibc
# cannot safely load the system's other name-service modules: src/sys.rs,
# confine_name_services). It is built in its own target directory (target/static) with the
# flags below, so `cargo build` and `cargo build --release` for development stay as they are.
#
# Usage:
#   bash scripts/release.sh                  build, package, checksum
#   bash scripts/release.sh --binary PATH    package PATH instead of building (the tests
#                                            package the binary cargo test built)
#   bash scripts/release.sh --out DIR        write the artifacts into DIR (default target/dist)
#   bash scripts/release.sh --check          then install the .deb with dpkg -i (as root), run
#                                            st2 --version, man st2 and a completion, remove it
#   bash scripts/release.sh --quick          compress little (the tests package a debug build)
#
# Needs: cargo, gcc, libc6-dev (its libc.a), dpkg-deb, gzip, tar, sha256sum (all in a stock
# Debian/Ubuntu with build-essential); man-db for --check's `man`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf 'release: %s\n' "$*" >&2; }
die() { printf 'release: error: %s\n' "$*" >&2; exit 1; }

binary=
out="$root/target/dist"
check=
deb_compression=(-Zxz)
gzip_level=-9
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$(realpath "${2:?--binary needs a path}"); shift 2 ;;
        --out) out=$(realpath -m "${2:?--out needs a directory}"); shift 2 ;;
        --check) check=1; shift ;;
        --quick) deb_compression=(-Zgzip -z1); gzip_level=-1; shift ;;
        *) die "unknown argument $1 (see the comment at the top of scripts/release.sh)" ;;
    esac
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || die "no version in Cargo.toml"
# Reproducible archives: every date is the last commit's (or SOURCE_DATE_EPOCH's).
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"

if [ -z "$binary" ]; then
    # Static glibc (no dynamic loader, no libraries to find and bind at start), non-PIE (no
    # relocations to apply at start), the symbols stripped. Why, with the figures:
    # BENCHMARKS.md, "Startup". --target keeps the flags off build scripts and proc macros.
    say "building the static binary (target/static; several minutes the first time)"
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C strip=symbols" \
        cargo build --release --locked --bin st2 --target-dir target/static \
        --target x86_64-unknown-linux-gnu
    binary="$root/target/static/x86_64-unknown-linux-gnu/release/st2"
    if ldd "$binary" >/dev/null 2>&1; then
        die "$binary is dynamically linked: $(ldd "$binary" | tr -s '\n\t ' ' ')"
    fi
fi
[ -x "$binary" ] || die "$binary is not an executable"
"$binary" --version >/dev/null || die "$binary --version failed"

# What a static glibc could get wrong, tried: a lookup of a group no file names (it crashed
# a static build whose name services were not confined), a host name resolved for a
# connection, a run, and st2ctl by its link.
smoke=$(mktemp -d)
mkdir -p "$smoke/pack/actions"
printf 'name: demo\ndescription: d\nversion: 1.0.0\nauthor: a\n' >"$smoke/pack/pack.yaml"
printf 'name: hi\nrunner_type: local-shell-cmd\n' >"$smoke/pack/actions/hi.yaml"
printf '[system]\nbase_path = %s/home\n[content]\npack_group = no-such-group-st2\nindex_url = http://localhost:1/index.json\nnetwork_timeout = 5\n' \
    "$smoke" >"$smoke/st2.conf"
ln -s "$binary" "$smoke/st2ctl"
"$binary" --config-file "$smoke/st2.conf" pack install --skip-virtualenv "$smoke/pack" >/dev/null 2>&1 \
    || die "smoke test: pack install with a missing pack_group failed ($?)"
"$binary" --config-file "$smoke/st2.conf" run core.local cmd=true >/dev/null \
    || die "smoke test: st2 run core.local failed"
"$smoke/st2ctl" --config-file "$smoke/st2.conf" reload >/dev/null \
    || die "smoke test: st2ctl reload failed"
set +e
"$binary" --config-file "$smoke/st2.conf" pack search demo >"$smoke/out" 2>&1
status=$?
set -e
[ "$status" = 1 ] && grep -q "Connection refused" "$smoke/out" \
    || die "smoke test: a refused connection to localhost gave status $status: $(cat "$smoke/out")"
rm -rf "$smoke"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# The files as installed, under usr/ (the .deb) and as the tarball lays them out.
tree="$stage/tree"
mkdir -p "$tree/usr/bin" "$tree/usr/share/man/man1" "$tree/usr/share/doc/st2-rs" \
    "$tree/usr/share/bash-completion/completions" "$tree/usr/share/zsh/vendor-completions" \
    "$tree/usr/share/fish/vendor_completions.d"
install -m 0755 "$binary" "$tree/usr/bin/st2"
ln -s st2 "$tree/usr/bin/st2ctl"
"$binary" man --output-dir "$stage/man" 2>/dev/null
for page in "$stage"/man/*.1; do
    gzip -9n <"$page" >"$tree/usr/share/man/man1/$(basename "$page").gz"
done
"$binary" completion bash >"$tree/usr/share/bash-completion/completions/st2"
"$binary" completion zsh >"$tree/usr/share/zsh/vendor-completions/_st2"
"$binary" completion fish >"$tree/usr/share/fish/vendor_completions.d/st2.fish"
cat >"$tree/usr/share/doc/st2-rs/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: st2-rs
Source: README.md of the st2-rs repository

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0; it is also in LICENSE in the tarball.
EOF
find "$tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
rm -f "$out"/st2-rs_*_amd64.deb "$out"/st2-rs-*-x86_64-linux.tar.gz "$out/SHA256SUMS"

# The .deb, made with dpkg-deb (cargo-deb would do the same from Cargo.toml metadata).
deb="$out/st2-rs_${version}_amd64.deb"
mkdir -p "$stage/deb/DEBIAN"
cp -a "$tree/usr" "$stage/deb/"
size=$(du -sk "$stage/deb/usr" | cut -f1)
cat >"$stage/deb/DEBIAN/control" <<EOF
Package: st2-rs
Version: $version
Architecture: amd64
Maintainer: ${DEBFULLNAME:-st2-rs maintainers} <${DEBEMAIL:-maintainers@st2-rs.invalid}>
Installed-Size: $size
Section: admin
Priority: optional
Conflicts: st2
Recommends: git, python3-venv, openssh-client
Description: StackStorm-compatible pack manager and action runner
 st2 and st2ctl as StackStorm's command line knows them (pack install, run,
 key, execution, reload), working on the StackStorm directory layout with a
 local SQLite store instead of StackStorm's services. One self-contained
 binary: TLS, SQLite and libgit2 are compiled in.
EOF
dpkg-deb --root-owner-group "${deb_compression[@]}" --build "$stage/deb" "$deb" >/dev/null
say "wrote $deb"

# The tarball: bin/ and share/ as under /usr (or /usr/local, or ~/.local).
name="st2-rs-$version"
tarball="$out/$name-x86_64-linux.tar.gz"
mkdir -p "$stage/tar/$name"
cp -a "$tree/usr/bin" "$tree/usr/share" "$stage/tar/$name/"
rm -rf "$stage/tar/$name/share/doc"
cp README.md LICENSE "$stage/tar/$name/"
touch -d "@$SOURCE_DATE_EPOCH" "$stage/tar/$name/README.md" "$stage/tar/$name/LICENSE"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$stage/tar" -cf - "$name" | gzip -n "$gzip_level" >"$tarball"
say "wrote $tarball"

(cd "$out" && sha256sum "$(basename "$deb")" "$(basename "$tarball")" >SHA256SUMS)
say "wrote $out/SHA256SUMS"

if [ -n "$check" ]; then
    [ "$(id -u)" = 0 ] || die "--check installs the .deb: run it as root"
    # Minimal images exclude manual pages from installs (/etc/dpkg/dpkg.cfg.d): include ours.
    dpkg -i --path-include='/usr/share/man/man1/st2*' "$deb" >/dev/null
    trap 'dpkg --purge st2-rs >/dev/null 2>&1; rm -rf "$stage"' EXIT
    /usr/bin/st2 --version
    /usr/bin/st2ctl --version
    MANPAGER=cat MANWIDTH=80 man st2 | grep -q "st2 - StackStorm-compatible" \
        || die "man st2 does not show the page"
    words=$(bash -c 'source /usr/share/bash-completion/completions/st2
        COMP_WORDS=(st2 pa); COMP_CWORD=1; COMP_LINE="st2 pa"; COMP_POINT=6; _st2 st2 pa st2
        echo "${COMPREPLY[*]}"')
    [ "$words" = pack ] || die "bash completion of \"st2 pa\" gave \"$words\", not \"pack\""
    say "checked: dpkg -i, st2 --version, man st2, bash completion"
fi
