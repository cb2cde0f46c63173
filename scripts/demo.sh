#!/usr/bin/env bash
# The main job, offline, on a fresh machine: set up, then install the real `twitter` pack of
# the StackStorm Exchange by name, into a StackStorm home under target/demo, as a user would,
# register its config, post with twitter.update_status (to a local stand-in for X's API that
# verifies the signature), and run more actions (a shell one, a Python one in a virtualenv).
#
# The Exchange's GitHub repositories cannot be reached from CI machines, so this makes a local
# git remote from the snapshot in ../shared/exchange and an index whose repo_url points at it;
# everything else is exactly what `st2 pack install twitter` does against the real index.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
. scripts/env.sh

exchange="$root/../shared/exchange"
[ -d "$exchange/packs/twitter" ] || { echo "demo: error: $exchange not found (the shared Exchange snapshot)" >&2; exit 1; }

demo="$root/target/demo"
rm -rf "$demo"
mkdir -p "$demo/remotes"

# A local git remote holding the real pack, tagged as upstream tags its releases.
remote="$demo/remotes/stackstorm-twitter"
cp -a "$exchange/packs/twitter" "$remote"
git -C "$remote" init -q
git -C "$remote" add -A
git -C "$remote" -c user.name=demo -c user.email=demo@example.com -c commit.gpgsign=false \
    commit -q -m "twitter pack from the Exchange snapshot"
git -C "$remote" tag v1.0.0

# The real index, with twitter's repo_url pointing at the local remote.
python3 - "$exchange/index.json" "$demo/index.json" "file://$remote" <<'PY'
import json, sys
index = json.load(open(sys.argv[1]))
index["packs"]["twitter"]["repo_url"] = sys.argv[3]
json.dump(index, open(sys.argv[2], "w"))
PY

cat > "$demo/st2.conf" <<CONF
[system]
base_path = $demo/st2

[content]
index_url = file://$demo/index.json
CONF
export ST2_CONF="$demo/st2.conf"
export PATH="$root/target/release:$PATH"

# Print a command as one would type it (NAME="value with spaces", other words quoted only when
# they need it), then run it.
shell_word() {
    local word=$1 name value
    if [[ $word =~ ^[A-Za-z0-9_@%+,./:=-]+$ ]]; then
        printf '%s' "$word"
    elif [[ $word == *$'\n'* ]]; then
        if [[ $word =~ ^(@?[A-Za-z_][A-Za-z0-9_.]*)=(.*)$ ]]; then
            printf '%s=%q' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
        else
            printf '%q' "$word"
        fi
    elif [[ $word =~ ^(@?[A-Za-z_][A-Za-z0-9_.]*)=(.*)$ ]]; then
        name=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]//\\/\\\\}
        value=${value//\"/\\\"}
        value=${value//\$/\\\$}
        value=${value//\`/\\\`}
        printf '%s="%s"' "$name" "$value"
    else
        printf "'%s'" "${word//\'/\'\\\'\'}"
    fi
}
run() {
    local line="" word
    for word in "$@"; do line+="${line:+ }$(shell_word "$word")"; done
    printf '\n$ %s\n' "$line"
    "$@"
}
run st2 pack search twitter
run st2 pack install twitter
run st2 pack list
run st2 pack get twitter
# The tutorial's next step: the example config, a secret from the datastore, registration.
mkdir -p "$demo/st2/configs"
run cp "$demo/st2/packs/twitter/twitter.yaml.example" "$demo/st2/configs/twitter.yaml"
run sed -i 's/"your access token secret"/"{{ st2kv.system.twitter_token_secret }}"/' "$demo/st2/configs/twitter.yaml"
run sed -i -e 's/"your consumer key"/"demo-consumer-key"/' -e 's/"your consumer secret"/"demo-consumer-secret"/' \
    -e 's/"your access token"/"demo-access-token"/' "$demo/st2/configs/twitter.yaml"
run st2 key set twitter_token_secret demo-secret --encrypt
run st2ctl reload --register-configs
run st2 pack config show twitter --resolved
# The tutorial's last step: post. X is played by scripts/fake_x_api.py on 127.0.0.1, which
# checks the OAuth 1.0a signature with the same four keys and rejects anything else.
python3 scripts/fake_x_api.py --keys demo-consumer-key,demo-consumer-secret,demo-access-token,demo-secret \
    --port-file "$demo/x-api.port" > "$demo/x-api.log" 2>&1 &
x_api=$!
trap 'kill $x_api 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$demo/x-api.port" ] && break; sleep 0.05; done
export ST2_TWITTER_API_URL="http://127.0.0.1:$(cat "$demo/x-api.port")"
run st2 run twitter.update_status status="Test from StackStorm CLI"
printf '\nThe fake X API says:\n'; cat "$demo/x-api.log"
# Run actions: a shell command of the built-in core pack, and a Python action of the real
# `csv` Exchange pack in its own virtualenv (installed from the snapshot on disk).
run st2 run core.local cmd="echo Hello from st2-rs; uname -s"
run st2 pack install "$exchange/packs/csv"
run st2 run csv.parse data=$'name,qty\napple,3'
run st2 execution list
printf '\nThe StackStorm home is %s (store: %s).\n' "$demo/st2" "$demo/st2/st2.db"
printf 'Try more with: export ST2_CONF=%s PATH=%s/target/release:$PATH\n' "$demo/st2.conf" "$root"
