#!/usr/bin/env bash
# llmload side by side with oha and wrk, and at scale, against one llmload-mock
# process (release builds). Figures and their reading: BENCHMARKS.md.
#
#   scripts/compare-load.sh [requests|streams|startup|all]   (default: all)
#
# requests: non-streaming one-token completions from a zero-latency profile, at
#           64 and 256 connections: requests/s of llmload, oha and wrk (each
#           $SECS s, same server, same body, $ROUNDS rounds taken in turn),
#           the ratio of the medians to oha's, with each round's range, and
#           the client CPU per request of llmload (run.json) and oha (time).
# streams:  1,000 and 2,000 concurrent streams of 64 tokens, TTFT 100 ms and
#           ITL 10 ms with zero jitter: streams/s, the client's CPU per stream,
#           and TTFT/ITL error against that truth, beside the simulator's own
#           lateness in the same run (HTTP=2: over HTTP/2).
# startup:  from starting `llmload run` to its first request sent
#           (run.json client.first_request_at), tokenizer set-up included.
#
# Needs oha (`cargo install oha`) and wrk (Debian package `wrk`); a missing one
# is skipped and said so. Everything runs on 127.0.0.1 and is bounded in time.
#
# Binaries: LLMLOAD= and MOCK= (both given: used as they are, nothing built);
# otherwise the release builds under $CARGO_TARGET_DIR (default target/),
# built first. BEFORE= another llmload binary (e.g. main's before a change):
# measured beside LLMLOAD in the same run, in rows of its own, so a change's
# effect is a ratio from one run (streams: FIRST=before runs it first).
# Exits 0 when every part ran; its temporary directory and the simulator it
# started are gone either way.
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT=${1:-all}
SECS=${SECS:-10}
# requests: rounds of oha, wrk and llmload in turn (medians are compared);
# RAW=1 also prints each round's figures (to stderr).
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"64 256"}
STREAMS=${STREAMS:-"1000 2000"}
# HTTP=2: the streams over HTTP/2 (prior knowledge), many to a connection.
HTTP=${HTTP:-1.1}
TARGET=${CARGO_TARGET_DIR:-target}
TMP=$(mktemp -d)
MOCK_PID=

# Stops the simulator started last (SIGTERM: it prints its lateness, if asked
# to record it, on stderr, into $TMP/mock.err). Never fails: a killed
# simulator's `wait` returns 143, which under `set -e` would become the
# script's exit code.
stop_mock() {
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
        MOCK_PID=
    fi
}

cleanup() {
    stop_mock
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ -n "${LLMLOAD:-}" ] && [ -n "${MOCK:-}" ]; then
    for b in "$LLMLOAD" "$MOCK"; do
        [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }
    done
else
    cargo build --release --quiet --workspace --bins
    LLMLOAD=${LLMLOAD:-$TARGET/release/llmload}
    MOCK=${MOCK:-$TARGET/release/llmload-mock}
fi

# Starts llmload-mock with the profile given as text, and any further
# arguments; sets URL and MOCK_PID.
start_mock() {
    stop_mock
    printf '%s\n' "$1" > "$TMP/profile.toml"
    shift
    "$MOCK" --config "$TMP/profile.toml" "$@" > "$TMP/mock.out" 2> "$TMP/mock.err" &
    MOCK_PID=$!
    for _ in $(seq 50); do
        URL=$(sed -n 's/^llmload-mock listening on //p' "$TMP/mock.out")
        [ -n "$URL" ] && return 0
        sleep 0.1
    done
    echo "llmload-mock did not start" >&2
    exit 1
}

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$WHAT" = requests ] || [ "$WHAT" = all ]; then
    start_mock $'ttft = "0ms"\nitl = "0ms"\njitter = 0'
    BODY='{"model":"sim-small","prompt":"hello world","max_tokens":1,"stream":false}'
    cat > "$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA
    # Client and server share the cores, and this machine's speed drifts by
    # ±15% from one 10 s run to the next: each tool runs once per round, in
    # turn, and the medians over the rounds are compared (a single pair's
    # ratio is as much the drift as the tools).
    echo
    echo "$ROUNDS rounds of $SECS s, each tool in turn; medians, with the lowest and highest round"
    echo
    echo "| connections | llmload | req/s | client CPU per request | oha req/s | oha CPU per request | wrk req/s | llmload / oha | per round | llmload / wrk |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"
    for c in $CONNS; do
        cat > "$TMP/req.toml" <<TOML
name = "compare"
[target]
kind = "openai"
base_url = "$URL"
api_key_env = ""
[load]
concurrency = $c
duration = "${SECS}s"
[[variant]]
name = "tiny"
endpoint = "completions"
model = "sim-small"
max_tokens = 1
stream = false
prompt = "hello world"
TOML
        : > "$TMP/rounds-$c"
        for round in $(seq "$ROUNDS"); do
            if command -v oha > /dev/null; then
                # oha's own CPU (user + system) per request, beside llmload's.
                timed=()
                [ -x /usr/bin/time ] && timed=(/usr/bin/time -f "%U %S" -o "$TMP/oha.time")
                "${timed[@]}" oha -z "${SECS}s" -c "$c" -m POST -H 'content-type: application/json' -d "$BODY" \
                    --no-tui --output-format json "$URL/completions" > "$TMP/oha.json"
                cpu=-
                [ -s "$TMP/oha.time" ] && cpu=$(python3 -c "import json; u, s = open('$TMP/oha.time').read().split()[-2:]; \
d = json.load(open('$TMP/oha.json'))['summary']; print((float(u) + float(s)) * 1e6 / (d['requestsPerSec'] * d['total']))")
                echo "oha $round $(json "$TMP/oha.json" 'd["summary"]["requestsPerSec"]') $cpu" >> "$TMP/rounds-$c"
            fi
            if command -v wrk > /dev/null; then
                wrk -t "$(nproc)" -c "$c" -d "${SECS}s" -s "$TMP/post.lua" "$URL/completions" > "$TMP/wrk.txt"
                echo "wrk $round $(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.txt") -" >> "$TMP/rounds-$c"
            fi
            for which in this ${BEFORE:+before}; do
                bin=$LLMLOAD
                [ "$which" = before ] && bin=$BEFORE
                out="$TMP/req-$c-$which-$round"
                "$bin" run -q --yes --out "$out" "$TMP/req.toml" > /dev/null 2>&1
                errors=$(json "$out/summary.json" 'd["total"]["requests"]["errors"]')
                [ "$errors" = 0 ] || echo "warning: llmload ($which) saw $errors errors at $c connections" >&2
                all=$(($(wc -l < "$out/requests.csv") - 1))
                cpu=$(json "$out/run.json" 'd["client"]["cpu_seconds"]')
                echo "$which $round $(json "$out/summary.json" 'd["total"]["throughput"]["requests_per_s"]') \
$(python3 -c "print($cpu * 1e6 / $all)")" >> "$TMP/rounds-$c"
                rm -rf "$out"
            done
        done
        # RAW=1: each round's figures too (tool, round, req/s, CPU per request).
        [ -n "${RAW:-}" ] && sed "s/^/raw $c /" "$TMP/rounds-$c" >&2
        python3 - "$c" "$TMP/rounds-$c" <<'PY'
import collections, statistics, sys
c, path = sys.argv[1], sys.argv[2]
rps, cpu = collections.defaultdict(dict), collections.defaultdict(list)
for line in open(path):
    tool, rnd, r, u = line.split()
    rps[tool][rnd] = float(r)
    if u != "-":
        cpu[tool].append(float(u))
med = {t: statistics.median(v.values()) for t, v in rps.items()}
def show(t):
    return f"{med[t]:.0f}" if t in med else "-"
for which in ("this", "before"):
    if which not in rps:
        continue
    ours = rps[which]
    def ratio(tool):
        return f"{med[which] / med[tool]:.2f}×" if tool in med else "-"
    rounds = "-"
    if "oha" in rps:
        each = sorted(ours[r] / rps["oha"][r] for r in ours if r in rps["oha"])
        rounds = f"{each[0]:.2f}–{each[-1]:.2f}×"
    oha_cpu = f"{statistics.median(cpu['oha']):.1f} µs" if cpu["oha"] else "-"
    print(f"| {c} | {which} | {med[which]:.0f} ({min(ours.values()):.0f}–{max(ours.values()):.0f}) "
          f"| {statistics.median(cpu[which]):.1f} µs | {show('oha')} | {oha_cpu} | {show('wrk')} | {ratio('oha')} "
          f"| {rounds} | {ratio('wrk')} |")
PY
    done
fi

if [ "$WHAT" = streams ] || [ "$WHAT" = all ]; then
    # The simulator's own lateness (each token event after its deadline) is
    # in every figure the client measures: a simulator started afresh for each
    # run records it and prints it when stopped (older builds cannot: "-").
    # (Not `--help | grep -q`: under pipefail, grep's early exit can fail the pipe.)
    lateness=()
    case "$("$MOCK" --help)" in *--lateness*) lateness=(--lateness) ;; esac
    echo
    echo "| streams | llmload | streams/s | requests | TTFT p50 / p99 (truth 100) | ITL p50 / p99 (truth 10) | simulator lateness p99 | client CPU | CPU per stream |"
    echo "|---:|---|---:|---:|---|---|---:|---:|---:|"
    for n in $STREAMS; do
        order="this ${BEFORE:+before}"
        [ "${FIRST:-this}" = before ] && [ -n "${BEFORE:-}" ] && order="before this"
        for which in $order; do
            start_mock $'ttft = "100ms"\nitl = "10ms"\njitter = 0' "${lateness[@]}"
            cat > "$TMP/stream.toml" <<TOML
name = "streams"
[target]
kind = "openai"
base_url = "$URL"
api_key_env = ""
[load]
concurrency = $n
http = "$HTTP"
ramp_up = "2s"
warmup = "3s"
duration = "${SECS}s"
[[variant]]
name = "stream"
endpoint = "chat"
model = "sim-small"
max_tokens = 64
stream = true
include_usage = true
prompt = "hello world"
TOML
            bin=$LLMLOAD
            [ "$which" = before ] && bin=$BEFORE
            out="$TMP/stream-$n-$which"
            "$bin" run -q --yes --out "$out" "$TMP/stream.toml" > /dev/null 2>&1
            stop_mock
            late=$(sed -n 's/.* p99 \([^ ]*\) p99\.9 .*/\1/p' "$TMP/mock.err")
            s="$out/summary.json"
            all=$(($(wc -l < "$out/requests.csv") - 1))
            cpu=$(json "$out/run.json" 'd["client"]["cpu_seconds"]')
            printf '| %s | %s | %s | %s | %s / %s ms | %s / %s ms | %s | %s s / %s s | %s ms |\n' "$n" "$which" \
                "$(json "$s" 'round(d["total"]["throughput"]["requests_per_s"])')" \
                "$(json "$s" 'd["total"]["requests"]["ok"]')" \
                "$(json "$s" 'd["total"]["ttft_ms"]["p50"]')" "$(json "$s" 'd["total"]["ttft_ms"]["p99"]')" \
                "$(json "$s" 'd["total"]["itl_ms"]["p50"]')" "$(json "$s" 'd["total"]["itl_ms"]["p99"]')" \
                "${late:--}" "$(python3 -c "print(round($cpu, 2))")" "$(json "$out/run.json" 'round(d["client"]["wall_seconds"], 1)')" \
                "$(python3 -c "print(round($cpu * 1000 / $all, 3))")"
        done
    done
fi

if [ "$WHAT" = startup ] || [ "$WHAT" = all ]; then
    start_mock $'ttft = "0ms"\nitl = "0ms"\njitter = 0'
    echo
    echo "| scenario | start to first request |"
    echo "|---|---:|"
    for model in gpt-4o gpt-3.5-turbo; do
        cat > "$TMP/startup.toml" <<TOML
name = "startup"
[target]
kind = "openai"
base_url = "$URL"
api_key_env = ""
[load]
concurrency = 1
requests = 1
[[variant]]
name = "one"
endpoint = "chat"
model = "$model"
max_tokens = 1
stream = false
prompt = "hello world"
TOML
        t0=$(date +%s.%N)
        # The simulator may not serve this model name (exit 1): only the start matters.
        "$LLMLOAD" run -q --yes --out "$TMP/startup-$model" "$TMP/startup.toml" > /dev/null 2>&1 || true
        first=$(json "$TMP/startup-$model/run.json" 'd["client"]["first_request_at"]')
        ms=$(python3 -c "
from datetime import datetime
f = datetime.fromisoformat('$first'.replace('Z', '+00:00')).timestamp()
print(round((f - $t0) * 1000, 1))")
        echo "| model $model (its tiktoken encoding loaded) | $ms ms |"
    done
fi
