#!/usr/bin/env bash
# Times `llmload compare` on two large results directories (BENCHMARKS.md) for
# each binary given, alternating between them N times (default 8), and prints
# each binary's minimum wall time, minimum CPU time and peak RSS. Make the
# directories first:
#   python3 benches/synthetic-results.py /tmp/base 1000000 1.0 1
#   python3 benches/synthetic-results.py /tmp/cand 1000000 1.03 2
set -euo pipefail
N=${N:-8}
BASE=${BASE:-/tmp/base}
CAND=${CAND:-/tmp/cand}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq "$N"); do
  for b in "$@"; do
    /usr/bin/time -f "%e %U %S %M" -a -o "$out/$(echo "$b" | tr / _)" "$b" compare "$BASE" "$CAND" >/dev/null || true
  done
done
for b in "$@"; do
  awk -v b="$b" 'BEGIN{mw=1e9;mc=1e9} {if($1<mw)mw=$1; c=$2+$3; if(c<mc)mc=c; if($4>m)m=$4}
    END{printf "%s: min wall %.2f s, min CPU %.2f s, peak RSS %d KB\n", b, mw, mc, m}' "$out/$(echo "$b" | tr / _)"
done
