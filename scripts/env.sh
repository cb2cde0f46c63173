# Sourced by scripts/test.sh and scripts/demo.sh: the private tools virtualenv that
# scripts/setup.sh made (PyYAML, Jinja2, uv) first on PATH. To run `cargo test` by hand with
# the same tools: source scripts/env.sh
_st2rs_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/tools/venv/bin"
if [ -x "$_st2rs_tools/python" ]; then
    export PATH="$_st2rs_tools:$PATH"
else
    printf 'note: %s is missing; run bash scripts/setup.sh --ci first\n' "$_st2rs_tools" >&2
fi
unset _st2rs_tools
