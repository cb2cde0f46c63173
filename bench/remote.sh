#!/usr/bin/env bash
# The remote runner against OpenSSH on this machine (hyperfine, each against its baseline in
# the same run):
#   1. `st2 run core.remote hosts=H cmd=true` vs `ssh H true`
#   2. `st2 run core.remote` on 50 hosts at once vs a sequential loop of 50 `ssh H true`
#      (and, for scale, the 50 `ssh` started at once by the shell)
# The 50 "hosts" are 127.0.1.1 to 127.0.1.50, served by four sshd started here (sshd listens
# on 16 addresses at most), as the current user, with their own host key and
# authorized_keys; `SetEnv SHLVL=1` keeps the login shell from reading the user's ~/.bashrc
# on both sides of the comparison. sshd, ssh and the benchmark share the machine's cores.
# Usage: bash bench/remote.sh   (bench/run.sh runs it; results in target/bench/remote-*.md)
#        BENCH_KEX=curve25519-sha256 bash bench/remote.sh   (both sides with that key exchange,
#        the one paramiko, StackStorm's client, negotiates; OpenSSH's default post-quantum one
#        costs each connection far more CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sshd=/usr/sbin/sshd
[ -x "$sshd" ] || { echo "bench: error: sshd not found; install openssh-server (apt-get install openssh-server)" >&2; exit 1; }
command -v hyperfine >/dev/null 2>&1 || { echo "bench: error: hyperfine not found; install it (apt-get install hyperfine)" >&2; exit 1; }
cargo build --release --locked --quiet
st2="$root/target/release/st2"
out="$root/target/bench"
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd   # sshd started by root wants it

ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/id"
cp "$work/id.pub" "$work/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.1.1", 0)); print(s.getsockname()[1])')
hosts=()
for i in $(seq 1 50); do hosts+=("127.0.1.$i"); done
for group in 0 1 2 3; do
    {
        printf 'Port %s\nHostKey %s/host_key\nPidFile none\nAuthorizedKeysFile %s/authorized_keys\n' "$port" "$work" "$work"
        printf 'UsePAM no\nStrictModes no\nPermitRootLogin yes\nPasswordAuthentication no\n'
        printf 'KbdInteractiveAuthentication no\nMaxStartups 200\nLogLevel ERROR\nSetEnv SHLVL=1\n'
        for i in $(seq $((group * 13 + 1)) $((group * 13 + 13))); do
            [ "$i" -le 50 ] && printf 'ListenAddress 127.0.1.%s\n' "$i"
        done
    } > "$work/sshd_config.$group"
    "$sshd" -D -e -f "$work/sshd_config.$group" 2>>"$work/sshd.log" &
    pids+=($!)
done
for _ in $(seq 100); do
    python3 - "$port" 2>/dev/null <<'PY' && break
import socket, sys
for i in (1, 14, 27, 40, 50):
    s = socket.create_connection(("127.0.1.%d" % i, int(sys.argv[1])), timeout=1)
    assert s.recv(7) == b"SSH-2.0"
PY
    sleep 0.1
done

user=$(id -un)
cat > "$work/st2.conf" <<CONF
[system]
base_path = $work/home
[system_user]
user = $user
ssh_key_file = $work/id
CONF
ssh_opts="-F /dev/null -i $work/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -p $port"
suffix=
if [ -n "${BENCH_KEX:-}" ]; then
    ssh_opts="$ssh_opts -o KexAlgorithms=$BENCH_KEX"
    printf 'Host *\n  KexAlgorithms %s\n' "$BENCH_KEX" > "$work/ssh_config"
    printf '[ssh_runner]\nuse_ssh_config = True\nssh_config_file_path = %s\n' "$work/ssh_config" >> "$work/st2.conf"
    suffix="-$BENCH_KEX"
fi
run="$st2 --config-file $work/st2.conf run core.remote"
all=$(IFS=,; echo "${hosts[*]/%/:$port}")
# One check before timing: every host answers.
$run "hosts=$all" cmd=true -j | python3 -c '
import json, sys
e = json.load(sys.stdin)
ok = sum(r.get("succeeded") is True for r in e["result"].values())
print("core.remote on 50 hosts: %s, %d of %d hosts succeeded" % (e["status"], ok, len(e["result"])))
assert ok == 50, e' 2>/dev/null || {
    $run "hosts=$all" cmd=true | tail -20
    echo "bench: core.remote did not succeed on the 50 hosts" >&2; exit 1
}

echo "== core.remote on 1 host vs ssh host true"
hyperfine --warmup 3 --runs 20 -N --export-markdown "$out/remote-one$suffix.md" \
    -n "ssh host true" "ssh $ssh_opts 127.0.1.1 true" \
    -n "st2 run core.remote (1 host)" "$run hosts=127.0.1.1:$port cmd=true"
printf '%s\n' "${hosts[@]}" > "$work/hosts"
cat > "$work/sequential.sh" <<SH
while read -r host; do ssh $ssh_opts "\$host" true < /dev/null; done < $work/hosts
SH
cat > "$work/parallel.sh" <<SH
while read -r host; do ssh $ssh_opts "\$host" true < /dev/null & done < $work/hosts
wait
SH
echo "== core.remote on 50 hosts vs 50 ssh one after the other (target: within 3x of 1 host)"
hyperfine --warmup 1 --runs 5 -N --export-markdown "$out/remote-fifty$suffix.md" \
    -n "50 x ssh host true, one after the other" "bash $work/sequential.sh" \
    -n "50 x ssh host true, all at once (the shell's &)" "bash $work/parallel.sh" \
    -n "st2 run core.remote (50 hosts)" "$run hosts=$all cmd=true"
if [ -x /usr/bin/time ]; then
    /usr/bin/time -o "$work/rss" -f "%M" $run "hosts=$all" cmd=true >/dev/null 2>&1 || true
    echo "peak RSS of core.remote on 50 hosts (st2 and the ssh it waited for): $(( $(tail -1 "$work/rss") / 1024 )) MB"
fi
echo "results: $out/remote-*.md"
