#!/usr/bin/env bash
# Benchmarks, each against its baseline in the same run (hyperfine):
#   1. install of a small local pack vs a plain `git clone` of the same repository
#   2. `st2 pack search` over the real Exchange index vs Python loading the same JSON
#   3. `st2ctl reload --register-all` of every pack in ../shared/exchange vs PyYAML loading
#      the same YAML files in one Python process (pure-Python SafeLoader and libyaml's)
#   4. `st2 run core.local cmd=true` vs `sh -c true`
#   5. a trivial python-script action vs `python3 -c pass`
#   6. 100 concurrent `st2 run core.noop`: wall time, and that all 100 are recorded
#   7. `st2 run twitter.update_status` vs curl posting the same JSON to a local fake X API
#   8. a 100-task sequential orquesta workflow of core.noop run by `st2 run` (every child
#      recorded) vs orquesta's own conductor driving the same workflow with mocked results
#      (bench/orquesta_conductor.py, in the venv of ../shared/oracles' orquesta)
#   9. with-items over 1,000 items at concurrency 10: wall time (and the same conductor baseline)
#  10. peak RSS of every command (GNU time), against the 30 MB target (50 MB for the with-items run)
#  11. core.remote against sshd on this machine: 1 host vs `ssh host true`, 50 hosts vs 50
#      `ssh` one after the other (bench/remote.sh)
#  12. the pack lifecycle (packs.lock, caches): bench/lifecycle.sh
#  13. remote mode: `st2 action list` and `st2 run core.local` against the test harness's
#      stand-in cluster (St2Server, from the integration-test binary), vs st2client 3.9.0
#      (`pip install st2client==3.9.0` into target/bench-st2client/) and curl as the floor;
#      their peak RSS against the 15 MB target
#  14. startup, a trivial run and the reload's memory against the code before issue 20, with the
#      release binary of scripts/release.sh: bench/startup.sh
# Usage: bash bench/run.sh            (results also written to target/bench/*.md)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v hyperfine >/dev/null 2>&1 || {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq hyperfine >/dev/null; }
    else
        echo "bench: error: hyperfine not found; install it (apt-get install hyperfine)" >&2; exit 1
    fi
}
cargo build --release --locked --quiet
st2="$root/target/release/st2"
out="$root/target/bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# A small pack (the real `csv` Exchange pack when available) in a local git repository.
src="$root/../shared/exchange/packs/csv"
remote="$work/stackstorm-csv"
if [ -d "$src" ]; then cp -a "$src" "$remote"; else
    mkdir -p "$remote/actions"
    printf 'name: csv\ndescription: d\nversion: 1.0.0\nauthor: a\n' > "$remote/pack.yaml"
fi
git -C "$remote" init -q
git -C "$remote" add -A
git -C "$remote" -c user.name=b -c user.email=b@example.com -c commit.gpgsign=false commit -q -m bench
cat > "$work/st2.conf" <<CONF
[system]
base_path = $work/home
CONF

echo "== install of a small local pack vs git clone"
hyperfine --warmup 3 --runs 30 --export-markdown "$out/install.md" \
    --prepare "rm -rf $work/home $work/clone" \
    -n "git clone" "git clone -q file://$remote $work/clone" \
    -n "st2 pack install" "$st2 --config-file $work/st2.conf pack install --skip-virtualenv file://$remote"

index="$root/../shared/exchange/index.json"
if [ -f "$index" ]; then
    cat > "$work/search.conf" <<CONF
[system]
base_path = $work/search-home
[content]
index_url = file://$index
CONF
    echo "== st2 pack search vs python3 json.load of the same index"
    hyperfine --warmup 3 --runs 30 -N --export-markdown "$out/search.md" \
        -n "python3 json.load" "python3 -c \"import json; json.load(open('$index'))\"" \
        -n "st2 pack search" "$st2 --config-file $work/search.conf pack search twitter"
fi
packs="$root/../shared/exchange/packs"
if [ -d "$packs" ] && python3 -c "import yaml" 2>/dev/null; then
    cat > "$work/register.conf" <<CONF
[system]
base_path = $work/register-home
[content]
packs_base_paths = $packs
CONF
    # The files registration reads: pack.yaml, config.schema.yaml and the content folders.
    cat > "$work/pyyaml.py" <<'PY'
import glob, os, sys, yaml
loader = yaml.CSafeLoader if sys.argv[2] == "c" else yaml.SafeLoader
files = []
for pack in sorted(glob.glob(os.path.join(sys.argv[1], "*", "pack.yaml"))):
    d = os.path.dirname(pack)
    files.append(pack)
    if os.path.isfile(os.path.join(d, "config.schema.yaml")):
        files.append(os.path.join(d, "config.schema.yaml"))
    for folder in ("actions", "sensors", "rules", "aliases", "policies", "triggers"):
        for ext in ("yaml", "yml"):
            files += [f for f in sorted(glob.glob(os.path.join(d, folder, "*." + ext)))
                      if not (folder == "actions" and os.path.basename(f).startswith("config."))]
for f in files:
    with open(f, "rb") as fh:
        try:
            yaml.load(fh, Loader=loader)
        except yaml.YAMLError:
            pass
PY
    echo "== st2ctl reload --register-all of ../shared/exchange vs PyYAML loading the same files"
    hyperfine --warmup 1 --runs 10 -N --export-markdown "$out/register.md" \
        --prepare "rm -rf $work/register-home" \
        -n "python3 PyYAML safe_load" "python3 $work/pyyaml.py $packs py" \
        -n "python3 PyYAML CSafeLoader" "python3 $work/pyyaml.py $packs c" \
        -n "st2ctl reload --register-all" "$root/target/release/st2ctl --config-file $work/register.conf reload --register-all --register-no-fail-on-failure"
fi

# Runs: a home with a pack holding a trivial Python action (no virtualenv: it runs with
# [actionrunner] python_binary, set to the real interpreter so that neither side pays for a
# launcher such as a pyenv shim).
py=$(python3 -c 'import sys; print(sys.executable)')
cat > "$work/run.conf" <<CONF
[system]
base_path = $work/run-home
[actionrunner]
python_binary = $py
CONF
mkdir -p "$work/run-home/packs/bench/actions"
printf 'name: bench\ndescription: d\nversion: 1.0.0\nauthor: a\n' > "$work/run-home/packs/bench/pack.yaml"
printf 'name: hello\nrunner_type: python-script\nentry_point: hello.py\n' > "$work/run-home/packs/bench/actions/hello.yaml"
printf 'from st2common.runners.base_action import Action\n\nclass Hello(Action):\n    def run(self):\n        return "hi"\n' > "$work/run-home/packs/bench/actions/hello.py"
"$root/target/release/st2ctl" --config-file "$work/run.conf" reload >/dev/null
run="$st2 --config-file $work/run.conf run"
echo "== st2 run core.local cmd=true vs sh -c true"
hyperfine --warmup 5 --runs 50 -N --export-markdown "$out/run-local.md" \
    -n "sh -c true" "sh -c true" \
    -n "st2 run core.local cmd=true" "$run core.local cmd=true"
echo "== python-script action vs python3 -c pass"
hyperfine --warmup 3 --runs 30 -N --export-markdown "$out/run-python.md" \
    -n "python3 -c pass" "$py -c pass" \
    -n "st2 run bench.hello" "$run bench.hello"
echo "== 100 concurrent st2 run core.noop"
cat > "$work/burst.sh" <<SH
for i in \$(seq 100); do $run core.noop >/dev/null & done
wait
SH
before=$("$st2" --config-file "$work/run.conf" execution list -n 100000 -j | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
hyperfine --runs 1 -N --export-markdown "$out/run-burst.md" -n "100 x st2 run core.noop at once" "bash $work/burst.sh"
after=$("$st2" --config-file "$work/run.conf" execution list -n 100000 -j | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), sum(e["status"] == "succeeded" for e in d))')
echo "executions recorded by the burst: $((${after%% *} - before)) of 100 (succeeded in total: ${after##* })"

# A post with the native twitter.update_status vs curl posting the same JSON, both to
# scripts/fake_x_api.py on 127.0.0.1 (which accepts curl's unsigned request for this).
"$st2" --config-file "$work/run.conf" pack install --skip-virtualenv "$root/../shared/exchange/packs/twitter" >/dev/null 2>&1 || true
mkdir -p "$work/run-home/configs"
cat > "$work/run-home/configs/twitter.yaml" <<'YAML'
consumer_key: "bench-ck"
consumer_secret: "bench-cs"
access_token: "bench-at"
access_token_secret: "bench-ats"
query: ["StackStorm"]
count: 30
YAML
"$root/target/release/st2ctl" --config-file "$work/run.conf" reload --register-configs >/dev/null
python3 "$root/scripts/fake_x_api.py" --keys bench-ck,bench-cs,bench-at,bench-ats --accept-unsigned --accept-duplicates \
    --port-file "$work/x.port" >/dev/null 2>&1 &
x_api=$!
for _ in $(seq 100); do [ -s "$work/x.port" ] && break; sleep 0.05; done
x_url="http://127.0.0.1:$(cat "$work/x.port")"
echo "== st2 run twitter.update_status vs curl posting the same JSON"
ST2_TWITTER_API_URL="$x_url" hyperfine --warmup 3 --runs 30 -N --export-markdown "$out/twitter.md" \
    -n "curl POST /2/tweets" "curl -s -o /dev/null -H 'Content-Type: application/json' -d '{\"text\": \"bench\"}' $x_url/2/tweets" \
    -n "st2 run twitter.update_status" "$run twitter.update_status status=bench"

# Workflows, in a home of their own (their thousands of records stay out of the other runs).
# The baseline is orquesta itself at the commit StackStorm 3.9.0 pins, in a virtualenv built
# as the test harness builds it (tests/it/common.rs: tar, python3 -m venv, pip from PyPI),
# kept under target/bench-oracle/ and reused while the tarball is unchanged.
mkdir -p "$work/wf-home/packs/wfbench/actions/workflows"
printf 'name: wfbench\ndescription: d\nversion: 1.0.0\nauthor: a\n' > "$work/wf-home/packs/wfbench/pack.yaml"
wfdir="$work/wf-home/packs/wfbench/actions/workflows"
{
    printf 'version: 1.0\ntasks:\n'
    for i in $(seq 1 99); do
        printf '  task%d:\n    action: core.noop\n    next:\n      - do: task%d\n' "$i" "$((i + 1))"
    done
    printf '  task100:\n    action: core.noop\n'
} > "$wfdir/sequence100.yaml"
printf 'version: 1.0\ntasks:\n  task1:\n    with:\n      items: <%% range(1000) %%>\n      concurrency: 10\n    action: core.noop\n' > "$wfdir/items1000.yaml"
printf 'name: sequence100\nrunner_type: orquesta\nentry_point: workflows/sequence100.yaml\n' > "$work/wf-home/packs/wfbench/actions/sequence100.yaml"
printf 'name: items1000\nrunner_type: orquesta\nentry_point: workflows/items1000.yaml\n' > "$work/wf-home/packs/wfbench/actions/items1000.yaml"
cat > "$work/wf.conf" <<CONF
[system]
base_path = $work/wf-home
CONF
"$root/target/release/st2ctl" --config-file "$work/wf.conf" reload >/dev/null
wfrun="$st2 --config-file $work/wf.conf run"

oracle_python() {
    local tarball="$root/../shared/oracles/orquesta-5ba1467.tar.gz"
    [ -f "$tarball" ] || { echo "bench: ../shared/oracles/orquesta-5ba1467.tar.gz is missing" >&2; return 1; }
    local dir
    dir="$root/target/bench-oracle/$(sha256sum "$tarball" | cut -c1-16)"
    if [ ! -f "$dir/ready" ]; then
        echo "bench: building the orquesta oracle's virtualenv in ${dir#"$root"/} (pip, from PyPI)" >&2
        rm -rf "$dir"
        mkdir -p "$dir/src"
        tar -xzf "$tarball" -C "$dir/src" --strip-components=1 &&
            python3 -m venv "$dir/venv" &&
            "$dir/venv/bin/pip" install -q --disable-pip-version-check "$dir/src" >&2 &&
            touch "$dir/ready" || { rm -rf "$dir"; echo "bench: the orquesta oracle could not be built" >&2; return 1; }
    fi
    echo "$dir/venv/bin/python"
}
# The tree of one workflow run: its status and how many children were recorded, and in what status.
check_tree() {
    local id
    id=$("$st2" --config-file "$work/wf.conf" execution list -n 1 -j | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
    "$st2" --config-file "$work/wf.conf" execution get "$id" -j | python3 -c '
import json, sys
d = json.load(sys.stdin)
kids = d["children"]
tasks = d["tasks"]
print("%s: %s, %d children recorded, %d of them succeeded" % (d["action"]["ref"], d["status"],
      len(d["children"]), sum(t["status"] == "succeeded" for t in tasks)))'
}
if oracle_py=$(oracle_python); then
    conductor="$oracle_py $root/bench/orquesta_conductor.py"
    echo "== 100-task sequential workflow: st2 run vs orquesta's conductor with mocked results"
    hyperfine --warmup 1 --runs 5 -N --export-markdown "$out/workflow-sequence.md" \
        -n "orquesta conductor (rehearsal loop)" "$conductor $wfdir/sequence100.yaml" \
        -n "orquesta conductor (in memory)" "$conductor --in-memory $wfdir/sequence100.yaml" \
        -n "st2 run (100 core.noop, recorded)" "$wfrun wfbench.sequence100"
    check_tree
    echo "== with-items over 1,000 items at concurrency 10 (target: under 2 s)"
    hyperfine --runs 3 -N --export-markdown "$out/workflow-items.md" \
        -n "orquesta conductor (in memory)" "$conductor --in-memory $wfdir/items1000.yaml" \
        -n "st2 run (1,000 core.noop, recorded)" "$wfrun wfbench.items1000"
    check_tree
else
    echo "bench: running the workflows without their baseline" >&2
    hyperfine --warmup 1 --runs 5 -N --export-markdown "$out/workflow-sequence.md" \
        -n "st2 run (100 core.noop, recorded)" "$wfrun wfbench.sequence100"
    hyperfine --runs 3 -N --export-markdown "$out/workflow-items.md" \
        -n "st2 run (1,000 core.noop, recorded)" "$wfrun wfbench.items1000"
fi

# Peak resident memory of each command (the largest of the process and the children it
# waited for; a Python action's interpreter is one of those, hence its exemption).
echo "== peak RSS of each command (target: under 30 MB, 50 MB for with-items, Python actions exempt)"
rss() {
    local label=$1; shift
    local kb
    /usr/bin/time -o "$work/rss" -f "%M" "$@" >/dev/null 2>&1 || true
    kb=$(tail -1 "$work/rss")
    local mb=$((kb / 1024))
    local limit=30
    case "$label" in *with-items*) limit=50;; *"(cluster)"*) limit=15;; esac
    local verdict="under $limit MB"
    case "$label" in *python*) verdict="exempt (Python)";; esac
    [ "$mb" -ge "$limit" ] && [ "$verdict" = "under $limit MB" ] && verdict="OVER"
    printf '| `%s` | %s | %s |\n' "$label" "$mb" "$verdict" | tee -a "$out/rss.md"
}
if [ -x /usr/bin/time ]; then
    printf '| command | peak RSS (MB) | target |\n|---|---:|---|\n' > "$out/rss.md"
    rm -rf "$work/home"
    rss "st2 --version" "$st2" --version
    rss "st2 pack install (csv, local git)" "$st2" --config-file "$work/st2.conf" pack install --skip-virtualenv "file://$remote"
    rss "st2 pack list" "$st2" --config-file "$work/st2.conf" pack list
    rss "st2 pack get csv" "$st2" --config-file "$work/st2.conf" pack get csv
    rss "st2 pack remove csv" "$st2" --config-file "$work/st2.conf" pack remove csv
    [ -f "$index" ] && rss "st2 pack search twitter (Exchange index)" "$st2" --config-file "$work/search.conf" pack search twitter
    [ -f "$index" ] && rss "st2 pack show twitter" "$st2" --config-file "$work/search.conf" pack show twitter
    if [ -d "$packs" ]; then
        rm -rf "$work/register-home"
        rss "st2ctl reload --register-all (all of ../shared/exchange)" "$root/target/release/st2ctl" --config-file "$work/register.conf" reload --register-all --register-no-fail-on-failure
        rss "st2ctl reload --register-all (again, unchanged)" "$root/target/release/st2ctl" --config-file "$work/register.conf" reload --register-all --register-no-fail-on-failure
    fi
    rss "st2ctl reload --register-configs" "$root/target/release/st2ctl" --config-file "$work/run.conf" reload --register-configs
    rss "st2 key set" "$st2" --config-file "$work/run.conf" key set bench value --encrypt
    rss "st2 key list" "$st2" --config-file "$work/run.conf" key list
    rss "st2 run core.local cmd=true" $run core.local cmd=true
    rss "st2 run core.noop" $run core.noop
    rss "st2 run core.http (local)" $run core.http "url=$x_url/2/tweets" method=POST 'body={"text": "rss"}'
    ST2_TWITTER_API_URL="$x_url" rss "st2 run twitter.update_status" $run twitter.update_status status=rss
    rss "st2 run bench.hello (python action)" $run bench.hello
    rss "st2 execution list" "$st2" --config-file "$work/run.conf" execution list -n 50
    rss "st2 action list" "$st2" --config-file "$work/run.conf" action list
    rss "st2 run of a 100-task sequential workflow" $wfrun wfbench.sequence100
    rss "st2 run of with-items over 1,000 items (concurrency 10)" $wfrun wfbench.items1000
else
    echo "bench: /usr/bin/time (GNU time) not found; skipping peak RSS" >&2
fi
kill "$x_api"
bash "$root/bench/remote.sh" || echo "bench: the remote runner benchmark did not run (bench/remote.sh says why)" >&2
bash "$root/bench/lifecycle.sh"


# Remote mode against the stand-in cluster of the tests (tests/it/st2server.rs), served by
# the integration-test binary until its port file goes; st2client 3.9.0 from PyPI in its own
# virtualenv, built once.
cargo test --quiet --test it --no-run 2>/dev/null
it_bin=$(ls -t "$root"/target/debug/deps/it-* | grep -v '\.d$' | head -1)
port_file="$work/standin.port"
ST2_STANDIN_PORT_FILE="$port_file" "$it_bin" --ignored --exact st2server::serve_stand_in_for_benchmarks >/dev/null 2>&1 &
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
if [ -s "$port_file" ]; then
    base="http://127.0.0.1:$(cat "$port_file")"
    urls="--api-url $base/api/v1 --auth-url $base/auth/v1 --stream-url $base/stream/v1"
    export ST2_AUTH_TOKEN=0123456789abcdef0123456789abcdef
    st2client="$root/target/bench-st2client/venv/bin/st2"
    if [ ! -x "$st2client" ]; then
        python3 -m venv "$root/target/bench-st2client/venv" &&
            "$root/target/bench-st2client/venv/bin/pip" install -q --disable-pip-version-check st2client==3.9.0 >&2 ||
            { rm -rf "$root/target/bench-st2client"; echo "bench: st2client 3.9.0 could not be installed" >&2; }
    fi
    echo "== remote: st2 action list vs st2client 3.9.0 (target: 20x faster), curl as the floor"
    if [ -x "$st2client" ]; then
        HOME="$work" hyperfine --warmup 3 --runs 30 -N --export-markdown "$out/remote-action-list.md" \
            -n "curl (the request alone)" "curl -s -H X-Auth-Token:$ST2_AUTH_TOKEN $base/api/v1/actions?include_attributes=ref,pack,description" \
            -n "st2client 3.9.0" "$st2client $urls action list" \
            -n "st2 (remote)" "$st2 $urls action list"
        echo "== remote: st2 run core.local cmd=date vs st2client 3.9.0 (the stand-in ends it at the first look)"
        HOME="$work" hyperfine --warmup 1 --runs 5 -N --export-markdown "$out/remote-run.md" \
            -n "st2client 3.9.0" "$st2client $urls run core.local cmd=date" \
            -n "st2 (remote)" "$st2 $urls run core.local cmd=date"
    else
        HOME="$work" hyperfine --warmup 3 --runs 30 -N --export-markdown "$out/remote-action-list.md" \
            -n "st2 (remote)" "$st2 $urls action list"
    fi
    if [ -x /usr/bin/time ]; then
        HOME="$work" rss "st2 action list (cluster)" "$st2" $urls action list
        HOME="$work" rss "st2 run core.local cmd=date (cluster)" "$st2" $urls run core.local cmd=date
        HOME="$work" rss "st2 key list (cluster)" "$st2" $urls key list
        [ -x "$st2client" ] && HOME="$work" rss "st2client 3.9.0 action list (python baseline)" "$st2client" $urls action list
    fi
    unset ST2_AUTH_TOKEN
else
    echo "bench: the stand-in cluster did not start; skipping remote mode" >&2
fi
rm -f "$port_file"

bash "$root/bench/startup.sh"
echo "results: $out/*.md"
