#!/usr/bin/env bash
# Regenerates README's example output from a real run: the quickstart is run
# (README's first command), its results directory is kept, figures and all,
# as tests/fixtures/readme/quickstart/<stamp>/ (without the files the table
# does not need), and README's example block is rewritten from it by
# tests/readme.rs, which otherwise checks that the block is what llmload
# prints for that run.
#
#   scripts/readme-examples.sh                # builds the release binary
#   LLMLOAD=target/debug/llmload scripts/readme-examples.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${LLMLOAD:-} ]]; then
  cargo build --release --locked --quiet
  LLMLOAD=${CARGO_TARGET_DIR:-target}/release/llmload
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

LLMLOAD=$(realpath "$LLMLOAD")
root=$PWD
# Run where the results land under reports/, as they would for a user.
(cd "$work" && "$LLMLOAD" run --quiet "$root/scenarios/quickstart.toml" >/dev/null)
run=$(ls -d "$work"/reports/quickstart/*/ | head -1)
stamp=$(basename "$run")

rm -rf tests/fixtures/readme/quickstart
mkdir -p "tests/fixtures/readme/quickstart/$stamp"
cp "$run"/{run.json,metrics.json,summary.json} "tests/fixtures/readme/quickstart/$stamp/"
UPDATE_README=1 cargo test --locked --test integration readme -- --quiet >/dev/null
cargo test --locked --test integration readme -- --quiet >/dev/null
echo "README's example now shows reports/quickstart/$stamp"
