#!/usr/bin/env bash
# Pack lifecycle benchmarks (issue 19), each against its baseline in the same run (hyperfine):
#   1. `st2 pack install twitter` with packs.lock and warm caches (git cache, uv's cache under
#      the base path) vs the same command in an empty home (no lock, cold caches: uv downloads
#      the requirements from PyPI); also `st2 pack install --locked twitter`
#   2. `st2 pack install --locked` of ten Exchange packs vs installing them one by one (ten
#      `st2 pack install NAME`), both with the lock and warm caches; and one by one without
#      the lock (uv asks PyPI again for each pack's requirements)
# The packs are the real ones of ../shared/exchange, in local git remotes (tagged as upstream
# tags them) listed by a local index; their Python requirements come from PyPI through uv
# (scripts/setup.sh installs it into target/tools/venv).
# Usage: bash bench/lifecycle.sh      (also run by bench/run.sh; results in target/bench/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
command -v uv >/dev/null || { echo "bench: uv not found: run scripts/setup.sh" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine not found (apt-get install hyperfine)" >&2; exit 1; }
exchange="$root/../shared/exchange/packs"
[ -d "$exchange" ] || { echo "bench: ../shared/exchange is missing" >&2; exit 1; }
cargo build --release --locked --quiet
st2="$root/target/release/st2"
out="$root/target/bench"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

packs="twitter csv jinja cloudshark gitlab ipcam mailgun mmonit fireeye beertab"
mkdir -p "$work/remotes"
for pack in $packs; do
    remote="$work/remotes/stackstorm-$pack"
    cp -a "$exchange/$pack" "$remote"
    git -C "$remote" init -q
    git -C "$remote" add -A
    git -C "$remote" -c user.name=bench -c user.email=bench@example.com -c commit.gpgsign=false \
        commit -q -m "snapshot"
    version=$(sed -n 's/^version: *//p' "$remote/pack.yaml" | tr -d "\"'" | head -1)
    git -C "$remote" tag "v$version"
done
python3 - "$work" $packs <<'PY'
import json, re, sys
work, packs = sys.argv[1], sys.argv[2:]
entries = {}
for pack in packs:
    remote = "%s/remotes/stackstorm-%s" % (work, pack)
    text = open(remote + "/pack.yaml").read()
    version = re.search(r"^version:\s*['\"]?([^'\"\s]+)", text, re.M).group(1)
    entries[pack] = {"name": pack, "ref": pack, "version": version, "versions": [version],
                     "description": pack, "author": "StackStorm", "repo_url": "file://" + remote}
json.dump({"packs": entries}, open(work + "/index.json", "w"))
PY
cat > "$work/st2.conf" <<CONF
[system]
base_path = $work/home
[content]
index_url = file://$work/index.json
CONF
home="$work/home"
st2c="$st2 --config-file $work/st2.conf"
# What the lock and the caches are kept without: the installed packs, virtualenvs, store.
reset="rm -rf $home/packs $home/virtualenvs $home/st2.db $home/st2.db-wal $home/st2.db-shm"

echo "== st2 pack install twitter: with packs.lock and warm caches vs an empty home (PyPI)"
rm -rf "$home"
$st2c pack install twitter >/dev/null 2>&1
cp "$home/packs.lock" "$work/twitter.lock"
hyperfine --runs 5 --export-markdown "$out/lifecycle-twitter.md" \
    --prepare "rm -rf $home" \
    -n "st2 pack install twitter (empty home: no lock, cold caches)" \
    "$st2c pack install twitter" \
    --prepare "$reset; cp $work/twitter.lock $home/packs.lock" \
    -n "st2 pack install twitter (packs.lock, warm caches)" \
    "$st2c pack install twitter" \
    --prepare "$reset; cp $work/twitter.lock $home/packs.lock" \
    -n "st2 pack install --locked twitter (warm caches)" \
    "$st2c pack install --locked twitter"

echo "== ten packs: st2 pack install --locked vs one by one"
rm -rf "$home"
# shellcheck disable=SC2086
$st2c pack install $packs >/dev/null 2>&1
cp "$home/packs.lock" "$work/ten.lock"
one_by_one="for p in $packs; do $st2c pack install \$p >/dev/null 2>&1 || exit 1; done"
hyperfine --warmup 1 --runs 5 --export-markdown "$out/lifecycle-ten.md" \
    --prepare "$reset; cp $work/ten.lock $home/packs.lock" \
    -n "st2 pack install --locked (10 packs, warm caches)" \
    "$st2c pack install --locked" \
    --prepare "$reset; cp $work/ten.lock $home/packs.lock" \
    -n "10 x st2 pack install NAME (packs.lock, warm caches)" \
    "bash -c '$one_by_one'" \
    --prepare "$reset; rm -f $home/packs.lock" \
    -n "10 x st2 pack install NAME (no lock, warm caches)" \
    "bash -c '$one_by_one'"
$st2c pack verify >/dev/null && echo "the ten packs verify against packs.lock"
echo "results: $out/lifecycle-*.md"
