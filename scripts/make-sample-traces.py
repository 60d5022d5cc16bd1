#!/usr/bin/env python3
"""Writes the sample traces in scenarios/traces/ (deterministic; no download).

sample-mooncake.jsonl: 240 requests over ~60 s in the Mooncake form
(timestamp ms, input_length, output_length, hash_ids with block_size 64).
Requests share prefixes as production traffic does: each belongs to one of 6
"applications" whose system prompt is 2-8 blocks (the same hash ids every
time); a third continue an earlier conversation (its blocks, then new ones).

sample-literal.jsonl: 60 requests over ~30 s in the literal form
(timestamp, messages, max_tokens).

    python3 scripts/make-sample-traces.py
"""
import json
import random
from pathlib import Path

BLOCK = 64
out = Path(__file__).resolve().parent.parent / "scenarios" / "traces"
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(20261203)

apps = []
next_id = 0
for a in range(6):
    n = rng.randint(2, 8)
    apps.append(list(range(next_id, next_id + n)))
    next_id += n

t = 0.0
history = []
lines = []
for i in range(240):
    t += rng.expovariate(4.0) * 1000.0
    if history and rng.random() < 0.33:
        base = rng.choice(history)
    else:
        base = rng.choice(apps)
    new_blocks = rng.randint(1, 4)
    ids = base + list(range(next_id, next_id + new_blocks))
    next_id += new_blocks
    # The last block is partial: input_length ends inside it.
    input_length = (len(ids) - 1) * BLOCK + rng.randint(1, BLOCK)
    history.append(ids)
    lines.append({
        "timestamp": round(t),
        "input_length": input_length,
        "output_length": rng.randint(8, 64),
        "hash_ids": ids,
    })
(out / "sample-mooncake.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))

questions = [
    "What is the capital of France?",
    "Summarise the plot of Hamlet in two sentences.",
    "Write a haiku about load testing.",
    "Explain what a prefix cache does for an LLM server.",
    "List three ways to lower time to first token.",
]
t = 0.0
lit = []
for i in range(60):
    t += rng.expovariate(2.0) * 1000.0
    lit.append({
        "timestamp": round(t, 1),
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": rng.choice(questions)},
        ],
        "max_tokens": rng.choice([16, 32, 64]),
    })
(out / "sample-literal.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lit))
print(f"wrote {len(lines)} + {len(lit)} lines to {out}")
