#!/usr/bin/env bash
# Trace replay at scale, release build, against the embedded simulator:
#  1. 10,000 lines at 1,000 requests/s: each request's send delay from its
#     scaled trace time (requests.csv queue_delay_ms), p50/p99/max;
#  2. 100,000 and 1,000,000 lines at 5,000 requests/s: peak memory (RSS),
#     which must not grow with the trace's length.
# Usage: scripts/bench-trace.sh [BIN]   (default target/release/llmload)
set -euo pipefail
bin=${1:-target/release/llmload}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

trace() { # lines, gap_ms(trace time), file
  python3 - "$1" "$2" "$3" <<'PY'
import sys
n, gap, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
with open(out, "w") as f:
    for i in range(n):
        f.write('{"timestamp": %.3f, "input_length": 8, "output_length": 2, "hash_ids": [%d]}\n' % (i * gap, i % 100))
PY
}
scenario() { # trace file, scale, out toml
  cat > "$3" <<TOML
name = "bench-trace"
[load]
max_in_flight = 256
[load.trace]
file = "$1"
block_size = 16
time_scale = $2
[simulator]
ttft = "1ms"
itl = "0ms"
[[variant]]
name = "v"
endpoint = "chat"
model = "sim"
max_tokens = 2
stream = false
TOML
}
delays() { python3 - "$1" <<'PY'
import csv, sys
d = sorted(float(r["queue_delay_ms"]) for r in csv.DictReader(open(sys.argv[1])))
n = len(d)
print(f"requests {n}: send delay from the trace time p50 {d[n//2]:.3f} ms, p99 {d[n*99//100]:.3f} ms, max {d[-1]:.3f} ms")
PY
}

trace 10000 4 "$work/t10k.jsonl"          # 250/s of trace time, at 4x: 1,000/s
scenario "$work/t10k.jsonl" 4.0 "$work/t10k.toml"
"$bin" run -q --out "$work/o10k" "$work/t10k.toml" > /dev/null
delays "$work/o10k/requests.csv"

for n in 100000 1000000; do
  trace "$n" 1 "$work/t$n.jsonl"          # 1,000/s of trace time, at 5x: 5,000/s
  scenario "$work/t$n.jsonl" 5.0 "$work/t$n.toml"
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" run -q --out "$work/o$n" "$work/t$n.toml" > /dev/null
  rows=$(($(wc -l < "$work/o$n/requests.csv") - 1))
  echo "trace of $n lines ($(du -h "$work/t$n.jsonl" | cut -f1)): $rows requests replayed, peak RSS $(( $(cat "$work/rss") / 1024 )) MiB"
  delays "$work/o$n/requests.csv"
done
