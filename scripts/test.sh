#!/usr/bin/env bash
# The project's test command: formatting, lints, then every test (unit, integration,
# conformance against ../shared/exchange). It first checks (and installs, see
# scripts/setup.sh) what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --ci
. scripts/env.sh
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
