#!/usr/bin/env bash
# Startup, a trivial run and the reload's memory (issue 20), each against its baseline in one
# run:
#   1. `st2 --version` vs `true`                                   (target: under 2x)
#   2. `st2 run core.local cmd=true` vs `sh -c true`               (target: 3x)
#   3. `st2 run core.noop` vs the same command built from BASE, the commit before issue 20
#   4. peak memory of `st2ctl reload --register-all` of ../shared/exchange (target: under
#      30 MB), and its time, against BASE's
#   5. `ldd` of the release binary: no OpenSSL, no library at all
#   6. with valgrind installed, the instructions each command executes (callgrind), which
#      unlike times stay the same on a busy machine
# "st2" is the release binary of scripts/release.sh (static, non-PIE); "st2 (dynamic)" is
# `cargo build --release` (what `cargo install` gives), to show what the static link buys.
# Usage: bash bench/startup.sh    (BASE=<commit> for another baseline; results also in
# target/bench/startup.md)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/target/bench"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The commit before issue 20's first change (main when the work began).
BASE=${BASE:-71343d0}
base_dir="$root/target/bench-base/$BASE"
if [ ! -x "$base_dir/target/release/st2" ]; then
    echo "bench: building $BASE into ${base_dir#"$root"/} (once; several minutes)" >&2
    rm -rf "$base_dir/src"
    mkdir -p "$base_dir/src"
    git archive "$BASE" | tar -x -C "$base_dir/src"
    (cd "$base_dir/src" && cargo build --release --locked --quiet --target-dir "$base_dir/target")
fi
base="$base_dir/target/release/st2"
base_ctl="$base_dir/target/release/st2ctl"

bash scripts/release.sh >/dev/null
st2="$root/target/static/x86_64-unknown-linux-gnu/release/st2"
cargo build --release --locked --quiet --bin st2
dynamic="$root/target/release/st2"
ln -s "$st2" "$work/st2ctl"

echo "== ldd of the release binary (and of the binary before issue 20)"
{ ldd "$st2" 2>&1 || true; } | sed 's/^/  /'
ldd "$base" | sed 's/^/  /'

# A home each: the code before issue 20 refuses a store its successors migrated.
for name in new dynamic base; do
    printf '[system]\nbase_path = %s/%s\n' "$work" "$name" >"$work/$name.conf"
done
"$st2" --config-file "$work/new.conf" run core.noop >/dev/null
"$dynamic" --config-file "$work/dynamic.conf" run core.noop >/dev/null
"$base" --config-file "$work/base.conf" run core.noop >/dev/null
run="--config-file $work/new.conf run"
run_dynamic="--config-file $work/dynamic.conf run"
run_base="--config-file $work/base.conf run"

echo "== st2 --version vs true; st2 run core.local cmd=true vs sh -c true; st2 run core.noop vs before"
hyperfine -N --warmup 20 --runs 300 --export-markdown "$out/startup.md" \
    --export-json "$work/startup.json" \
    -n "true" "true" \
    -n "st2 --version" "$st2 --version" \
    -n "st2 (dynamic) --version" "$dynamic --version" \
    -n "st2 before issue 20 --version" "$base --version" \
    -n "sh -c true" "sh -c true" \
    -n "st2 run core.local cmd=true" "$st2 $run core.local cmd=true" \
    -n "st2 (dynamic) run core.local cmd=true" "$dynamic $run_dynamic core.local cmd=true" \
    -n "st2 before issue 20 run core.local cmd=true" "$base $run_base core.local cmd=true" \
    -n "st2 run core.noop" "$st2 $run core.noop" \
    -n "st2 before issue 20 run core.noop" "$base $run_base core.noop" >/dev/null
# Medians (hyperfine's means move with the machine's load more than they do).
python3 - "$work/startup.json" <<'PY' | tee -a "$out/startup.md"
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
def median(name):
    times = sorted(results[name]["times"])
    return times[len(times) // 2] * 1e3
print("\n| what | median | baseline | median | ratio |\n|---|---:|---|---:|---:|")
for name, baseline in [
    ("st2 --version", "true"),
    ("st2 (dynamic) --version", "true"),
    ("st2 before issue 20 --version", "true"),
    ("st2 run core.local cmd=true", "sh -c true"),
    ("st2 (dynamic) run core.local cmd=true", "sh -c true"),
    ("st2 before issue 20 run core.local cmd=true", "sh -c true"),
    ("st2 run core.noop", "st2 before issue 20 run core.noop"),
]:
    print("| `%s` | %.2f ms | `%s` | %.2f ms | %.2fx |" % (
        name, median(name), baseline, median(baseline), median(name) / median(baseline)))
PY

if command -v valgrind >/dev/null 2>&1; then
    echo "== instructions executed (valgrind --tool=callgrind; the store's WAL checkpointed first)"
    count() {
        for name in new dynamic base; do
            python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)')" \
                "$work/$name/st2.db"
        done
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
            sed -n 's/.*Collected : //p'
    }
    {
        printf '\n| command | instructions |\n|---|---:|\n'
        for args in "true" "sh -c true" "$st2 --version" "$dynamic --version" "$base --version" \
            "$st2 $run core.noop" "$dynamic $run_dynamic core.noop" "$base $run_base core.noop" \
            "$st2 $run core.local cmd=true" "$dynamic $run_dynamic core.local cmd=true" \
            "$base $run_base core.local cmd=true"; do
            # shellcheck disable=SC2086
            printf '| `%s` | %s |\n' "${args//$root\//}" "$(count $args)"
        done
    } | sed "s#$work/#WORK/#g" | tee -a "$out/startup.md"
fi

packs="$root/../shared/exchange/packs"
if [ -d "$packs" ]; then
    echo "== st2ctl reload --register-all of ../shared/exchange: peak memory and time (target: under 30 MB)"
    printf '[system]\nbase_path = %s/reload\n[content]\npacks_base_paths = %s\n' "$work" "$packs" >"$work/reload.conf"
    reload() {
        local label=$1; shift
        for attempt in "fresh store" "again, unchanged"; do
            [ "$attempt" = "fresh store" ] && rm -rf "$work/reload"
            /usr/bin/time -o "$work/rss" -f "%M %e" "$@" --config-file "$work/reload.conf" \
                reload --register-all --register-no-fail-on-failure >/dev/null 2>&1 || true
            read -r kb seconds <"$work/rss"
            printf '| `%s` (%s) | %s MB | %s s |\n' "$label" "$attempt" "$((kb / 1024))" "$seconds"
        done
    }
    {
        printf '\n| reload of the Exchange | peak RSS | time |\n|---|---:|---:|\n'
        reload "st2ctl reload" "$work/st2ctl"
        reload "st2ctl before issue 20" "$base_ctl"
    } | tee -a "$out/startup.md"
fi
echo "results: $out/startup.md"
