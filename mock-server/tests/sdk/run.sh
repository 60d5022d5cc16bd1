#!/usr/bin/env bash
# The OpenAI Python SDK contract test: a virtualenv with the official `openai` package
# (kept in target/ between runs), the llmload-mock binary, then contract.py, which
# starts and always stops the server. Run from anywhere; .ci/run calls it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/sdk-venv"

if [ ! -x "$venv/bin/python" ]; then
    timeout 120 python3 -m venv "$venv"
fi
# Quiet, and quick when already installed. Pinned (the release the contract was
# written against) so a new SDK release cannot turn CI red on its own; bump on purpose.
timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check "openai==3.57.0"

(cd "$root" && cargo build --quiet --locked -p llmload-mock --bin llmload-mock)
timeout 120 "$venv/bin/python" "$here/contract.py" "$target/debug/llmload-mock" "$here/profile.toml"
