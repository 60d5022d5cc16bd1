"""Contract test: the official `openai` Python SDK against llmload-mock.

Usage: python contract.py PATH/TO/llmload-mock PATH/TO/profile.toml

Starts the simulator on a free port (reading the URL from its first line of output),
runs each check with the SDK, and always stops the server. Exits non-zero on any
failure. What it pins: the SDK parses our streams, choices, usage and errors as it does
the real API's, and maps 401/404/429/400 to its typed exceptions; the Responses API's
object and its numbered event stream parse; embeddings (base64, as the SDK asks by
default, and float) decode to unit vectors.
"""

import select
import subprocess
import sys
import time

import openai
from openai import OpenAI

KEY = "sk-contract-0123456789"
START_TIMEOUT_S = 20


def start(binary, profile):
    proc = subprocess.Popen(
        [binary, "--config", profile, "--host", "127.0.0.1", "--port", "0", "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    prefix = "llmload-mock listening on "
    if not line.startswith(prefix):
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise SystemExit(f"llmload-mock did not start: {line!r} {err!r}")
    return proc, line[len(prefix):].strip()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(exc_type, status, call, code=None, param=None):
    try:
        call()
    except exc_type as e:
        check(e.status_code == status, f"{exc_type.__name__}: status {e.status_code}")
        if code is not None:
            check(e.code == code, f"{exc_type.__name__}: code {e.code!r}, want {code!r}")
        if param is not None:
            check(e.param == param, f"{exc_type.__name__}: param {e.param!r}, want {param!r}")
        return e
    raise AssertionError(f"expected {exc_type.__name__}")


def streaming_chat(client):
    stream = client.chat.completions.create(
        model="sim-chat",
        messages=[{"role": "user", "content": "one two three"}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage, roles = "", None, None, 0
    for chunk in stream:
        check(chunk.object == "chat.completion.chunk", chunk.object)
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            check(choice.index == 0, f"index {choice.index}")
            roles += choice.delta.role == "assistant"
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    check(roles == 1, f"{roles} role deltas")
    check(len(text.split()) == 8, f"text {text!r}")
    check(finish == "length", f"finish {finish}")
    check(usage is not None and usage.completion_tokens == 8 and usage.prompt_tokens == 3, f"usage {usage}")
    check(usage.total_tokens == 11, f"usage {usage}")


def streaming_n_interleaved(client):
    stream = client.completions.create(
        model="sim-chat", prompt="hi", n=2, max_tokens=4, stream=True, stream_options={"include_usage": True}
    )
    order, texts, usage = [], {0: "", 1: ""}, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            if choice.text:
                order.append(choice.index)
                texts[choice.index] += choice.text
    check(order == [0, 1, 0, 1, 0, 1, 0, 1], f"order {order}")
    check(all(len(t.split()) == 4 for t in texts.values()), f"texts {texts}")
    check(usage is not None and usage.completion_tokens == 8, f"usage {usage}")


def chat_n3(client):
    raw = client.chat.completions.with_raw_response.create(
        model="sim-chat", messages=[{"role": "user", "content": "hello there"}], n=3, max_tokens=5
    )
    check(raw.headers.get("x-request-id", "").startswith("req_"), f"headers {dict(raw.headers)}")
    r = raw.parse()
    check(r.object == "chat.completion", r.object)
    check([c.index for c in r.choices] == [0, 1, 2], f"indexes {[c.index for c in r.choices]}")
    check(all(c.message.role == "assistant" and c.finish_reason == "length" for c in r.choices), "choices")
    check(len({c.message.content for c in r.choices}) == 3, "three different texts")
    check(r.usage.prompt_tokens == 2 and r.usage.completion_tokens == 15 and r.usage.total_tokens == 17, f"{r.usage}")


def completions_batch_best_of(client):
    r = client.completions.create(model="sim-chat", prompt=["a b", "c d e"], n=2, best_of=3, max_tokens=4)
    check(r.object == "text_completion", r.object)
    check([c.index for c in r.choices] == [0, 1, 2, 3], f"indexes {[c.index for c in r.choices]}")
    check(all(len(c.text.split()) == 4 for c in r.choices), "texts")
    # best_of sequences are generated and billed: 2 prompts x 3 x 4 tokens.
    check(r.usage.prompt_tokens == 5 and r.usage.completion_tokens == 24, f"usage {r.usage}")


def stop_sequence(client):
    # " the" starts 5 of the simulator's 64 words: 200 tokens without one is ~1e-7.
    r = client.completions.create(model="sim-chat", prompt="go", max_tokens=200, stop=[" the", "zzz"])
    c = r.choices[0]
    check(c.finish_reason == "stop", f"finish {c.finish_reason}")
    check(" the" not in c.text, f"text {c.text!r}")
    check(r.usage.completion_tokens < 200, f"usage {r.usage}")
    stream = client.chat.completions.create(
        model="sim-chat", messages=[{"role": "user", "content": "x"}], max_tokens=200, stop=" the", stream=True
    )
    text, finish = "", None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    check(finish == "stop" and " the" not in text, f"streamed {finish} {text!r}")


def responses_api(client):
    r = client.responses.create(model="sim-chat", input="one two three", instructions="be brief", max_output_tokens=16)
    check(r.object == "response" and r.status == "incomplete", f"{r.object} {r.status}")
    check(r.incomplete_details.reason == "max_output_tokens", f"{r.incomplete_details}")
    check(len(r.output_text.split()) == 16, f"output_text {r.output_text!r}")
    check(r.usage.input_tokens == 5 and r.usage.output_tokens == 16 and r.usage.total_tokens == 21, f"{r.usage}")
    expect_error(
        openai.BadRequestError, 400,
        lambda: client.responses.create(model="sim-chat", input="x", max_output_tokens=8), param="max_output_tokens",
    )
    stream = client.responses.create(
        model="sim-chat",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "a b"}]}],
        max_output_tokens=18,
        stream=True,
    )
    kinds, text, numbers, final = [], "", [], None
    for event in stream:
        kinds.append(event.type)
        numbers.append(event.sequence_number)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type in ("response.completed", "response.incomplete"):
            final = event.response
    check(kinds[0] == "response.created" and kinds[-1] == "response.incomplete", f"kinds {kinds}")
    check(kinds.count("response.output_text.delta") == 18, f"kinds {kinds}")
    check(numbers == list(range(len(numbers))), f"sequence numbers {numbers}")
    check(len(text.split()) == 18 and final.output_text == text, f"text {text!r} / {final.output_text!r}")
    check(final.usage.output_tokens == 18 and final.usage.input_tokens == 2, f"usage {final.usage}")


def embeddings(client):
    # The SDK asks for base64 by default and decodes it; floats on request.
    r = client.embeddings.create(model="sim-embed", input=["one two three", "four five", "one two three"])
    check(r.object == "list" and len(r.data) == 3, f"{r.object} {len(r.data)}")
    check([d.index for d in r.data] == [0, 1, 2], f"indexes {[d.index for d in r.data]}")
    check(all(len(d.embedding) == 64 for d in r.data), f"dims {[len(d.embedding) for d in r.data]}")
    norm = sum(x * x for x in r.data[0].embedding)
    check(abs(norm - 1.0) < 1e-4, f"norm {norm}")
    check(r.data[0].embedding == r.data[2].embedding != r.data[1].embedding, "same input, same vector")
    check(r.usage.prompt_tokens == 8 and r.usage.total_tokens == 8, f"usage {r.usage}")
    f = client.embeddings.create(model="sim-embed", input="one two three", encoding_format="float", dimensions=16)
    check(len(f.data) == 1 and len(f.data[0].embedding) == 16, f"float {len(f.data[0].embedding)}")
    expect_error(
        openai.BadRequestError, 400,
        lambda: client.embeddings.create(model="sim-embed", input="x", dimensions=65), param="dimensions",
    )


def typed_errors(client, base):
    wrong = OpenAI(base_url=base, api_key="sk-wrong-0123456789", max_retries=0, timeout=10)
    msgs = [{"role": "user", "content": "hi"}]
    expect_error(
        openai.AuthenticationError, 401,
        lambda: wrong.chat.completions.create(model="sim-chat", messages=msgs), code="invalid_api_key",
    )
    expect_error(
        openai.NotFoundError, 404,
        lambda: client.chat.completions.create(model="no-such-model", messages=msgs), code="model_not_found",
    )
    expect_error(
        openai.BadRequestError, 400,
        lambda: client.chat.completions.create(model="sim-chat", messages=msgs, n=0), param="n",
    )
    expect_error(
        openai.BadRequestError, 400,
        lambda: client.completions.create(model="sim-chat", prompt="x", n=3, best_of=2), param="best_of",
    )
    expect_error(
        openai.BadRequestError, 400,
        lambda: client.chat.completions.create(model="sim-chat", messages=msgs, temperature="hot"),
        code="invalid_type", param="temperature",
    )
    long = [{"role": "user", "content": "w " * 9000}]
    e = expect_error(
        openai.BadRequestError, 400,
        lambda: client.chat.completions.create(model="sim-chat", messages=long, max_tokens=10),
        code="context_length_exceeded", param="messages",
    )
    check("maximum context length is 8192 tokens" in e.message, e.message)
    for _ in range(2):
        client.chat.completions.create(model="sim-limited", messages=msgs, max_tokens=1)
    e = expect_error(
        openai.RateLimitError, 429,
        lambda: client.chat.completions.create(model="sim-limited", messages=msgs, max_tokens=1),
        code="rate_limit_exceeded",
    )
    h = e.response.headers
    for name in ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"):
        check(name in h, f"429 without {name}: {dict(h)}")
    check(h["x-ratelimit-remaining-requests"] == "0" and int(h["retry-after"]) >= 1, f"{dict(h)}")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    proc, base = start(sys.argv[1], sys.argv[2])
    failed = 0
    try:
        client = OpenAI(base_url=base, api_key=KEY, max_retries=0, timeout=10)
        checks = [
            streaming_chat,
            streaming_n_interleaved,
            chat_n3,
            completions_batch_best_of,
            stop_sequence,
            responses_api,
            embeddings,
            lambda c: typed_errors(c, base),
        ]
        names = ["streaming_chat", "streaming_n_interleaved", "chat_n3", "completions_batch_best_of",
                 "stop_sequence", "responses_api", "embeddings", "typed_errors"]
        for name, run in zip(names, checks):
            started = time.monotonic()
            try:
                run(client)
                print(f"ok   {name} ({(time.monotonic() - started) * 1e3:.0f} ms)")
            except Exception as e:  # noqa: BLE001 - report every check, then fail
                failed += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    print(f"openai {openai.__version__}: {len(names) - failed}/{len(names)} contract checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
