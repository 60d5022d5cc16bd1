#!/usr/bin/env bash
# The calibrate loop against llama.cpp's llama-server: record a staged run
# (1, 2, 4 and 8 users against 4 slots), fit a profile (llmload calibrate),
# replay the same scenario on the embedded simulator with it, and compare
# the replay with the record. Prints the fit and the comparison; the figures
# go in BENCHMARKS.md ("Calibrate: llama-server, fitted vs measured").
#
#   scripts/calibrate-loop.sh                 # builds the release binary
#   LLMLOAD=target/release/llmload scripts/calibrate-loop.sh
# Env: PORT=8097 MODEL_DIR=/tmp/tiny-model STAGE=20s (each stage's length)
#      TOOLS=../shared/tools/real-server
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PORT=${PORT:-8097}
MODEL_DIR=${MODEL_DIR:-/tmp/tiny-model}
STAGE=${STAGE:-20s}
TOOLS=${TOOLS:-$root/../shared/tools/real-server}
if [[ -z ${LLMLOAD:-} ]]; then
  cargo build --release --locked --quiet
  LLMLOAD=${CARGO_TARGET_DIR:-target}/release/llmload
fi
LLMLOAD=$(realpath "$LLMLOAD")
work=$(mktemp -d)
cleanup() {
  RUN_DIR=$work/server "$TOOLS/stop.sh" "$PORT" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

RUN_DIR=$work/server PARALLEL=4 "$TOOLS/start-llama-server.sh" "$PORT" "$MODEL_DIR" >/dev/null

stages=""
for users in 1 2 4 8; do
  stages+=$'\n[[load.stages]]\nduration = "'$STAGE$'"\nconcurrency = '$users$'\n'
done
cat >"$work/scenario.toml" <<TOML
name = "calibrate-llama"
seed = 7

[target]
kind = "openai"
base_url = "http://127.0.0.1:$PORT/v1"
api_key_env = ""

[tokenizers]
"tiny-llama" = "$MODEL_DIR/tokenizer"

[load]
warmup = "2s"
timeout = "60s"
$stages
[[variant]]
name = "chat"
endpoint = "chat"
model = "tiny-llama"
max_tokens = 64
prompt_tokens = { min = 16, max = 384 }
temperature = 0.8
TOML

echo "== record against llama-server (4 slots), stages of $STAGE at 1, 2, 4, 8 users"
"$LLMLOAD" run -q --yes --out "$work/recorded" "$work/scenario.toml" | tail -8
echo "== calibrate"
"$LLMLOAD" calibrate "$work/recorded" --out "$work/profile.toml"
echo "== replay on the embedded simulator"
"$LLMLOAD" run -q --simulator "$work/profile.toml" --out "$work/replay" "$work/scenario.toml" | tail -8
echo "== compare (baseline: the record; candidate: the replay)"
"$LLMLOAD" compare --max-regression 5% "$work/recorded" "$work/replay" || true
