#!/usr/bin/env python3
"""Writes a synthetic results directory (summary.json + requests.csv) for
timing `llmload compare` on large runs without running them.

    python3 benches/synthetic-results.py DIR ROWS TTFT_FACTOR SEED

ROWS measured requests at 500/s: 75% streamed "chat" (TTFT ~N(100, 10) ms,
64 tokens at ~N(20, 2) ms), 25% whole "completions" (~N(300, 30) ms), 0.1%
HTTP 500s. TTFT_FACTOR scales every TTFT (1.03 = 3% slower). The summary's
percentiles are computed from the rows the way hdrhistogram reads them.
"""

import json
import math
import os
import random
import sys

out, n, factor, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
os.makedirs(out, exist_ok=True)
RATE, PRICE = 500.0, 0.0003
secs = n / RATE
cols = "seq,variant,phase,intended_ms,queue_delay_ms,ttft_ms,e2e_ms,prompt_tokens,output_tokens," \
       "token_source,finish_reason,outcome,error,attempts,rate_limited\n"
rows = {"chat": [], "completions": []}  # (ok, ttft, e2e, itl, tokens)
with open(os.path.join(out, "requests.csv"), "w") as f:
    f.write(cols)
    for i in range(n):
        t = i * 1000.0 / RATE
        ok = rnd.random() >= 0.001
        if rnd.random() < 0.75:
            v, tokens, itl = "chat", 64, max(1.0, rnd.gauss(20, 2))
            ttft = max(1.0, rnd.gauss(100, 10)) * factor
            e2e = ttft + (tokens - 1) * itl
        else:
            v, tokens, itl = "completions", 32, None
            ttft = e2e = max(1.0, rnd.gauss(300, 30)) * factor
        rows[v].append((ok, ttft, e2e, itl, tokens if ok else 0))
        if ok:
            f.write(f"{i},{v},measured,{t:.3f},0.1,{ttft:.3f},{e2e:.3f},100,{tokens},usage,length,ok,,1,0\n")
        else:
            f.write(f"{i},{v},measured,{t:.3f},0.1,,{e2e:.3f},100,0,usage,,http_500,boom,1,0\n")


def pct(values):
    s = sorted(values)
    at = lambda q: round(s[max(1, math.ceil(q * len(s))) - 1], 3) if s else None
    return {"count": len(s), "p50": at(0.5), "p90": at(0.9), "p95": at(0.95), "p99": at(0.99),
            "p999": at(0.999), "max": s[-1] if s else None, "mean": sum(s) / len(s) if s else None}


def stats(name, rs, streaming):
    good = [r for r in rs if r[0]]
    ok, errors, tokens = len(good), len(rs) - len(good), sum(r[4] for r in rs)
    empty = pct([])
    return {
        "name": name, "streaming": streaming,
        "requests": {"sent": len(rs), "ok": ok, "errors": errors, "cancelled": 0, "late_starts": 0},
        "errors": [{"class": "http_500", "count": errors, "messages": [{"message": "boom", "count": errors}]}],
        "ttft_ms": pct([r[1] for r in good]), "e2e_ms": pct([r[2] for r in good]),
        "itl_ms": pct([r[3] for r in good if r[3] is not None]), "tpot_ms": empty, "queue_delay_ms": empty,
        "ttft_service_ms": empty, "e2e_service_ms": empty,
        "prompt_tokens": 100 * len(rs), "output_tokens": tokens,
        "output_token_source": {"usage": ok, "estimate": 0},
        "throughput": {"requests_per_s": round(ok / secs, 3), "prompts_per_s": round(ok / secs, 3),
                       "output_tokens_per_s": round(tokens / secs, 3)},
        "cost_usd": PRICE * len(rs),
    }


variants = [stats("chat", rows["chat"], True), stats("completions", rows["completions"], False)]
summary = {
    "scenario": "synthetic", "partial": False, "stop_reason": "requests", "measured_seconds": secs,
    "variants": variants, "total": stats("total", rows["chat"] + rows["completions"], None),
    "stages": [], "slo": [], "slo_passed": None, "notes": [],
}
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f)
