#!/usr/bin/env bash
# The project's test command: formatting, lints, then every test (unit, integration,
# conformance against ../shared/exchange).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
