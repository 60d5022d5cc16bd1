//! Micro-benchmarks of the client's hot paths: what runs per stream event,
//! per finished request and per request sent. Figures and how they were
//! taken: BENCHMARKS.md. Run: `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use llmload::client::StreamDecoder;
use llmload::load::Ticket;
use llmload::metrics::{Metrics, RequestRecord, VariantInfo};
use llmload::results::ROW_BLOCK;
use llmload::scenario::Scenario;
use llmload::workload::{WorkRequest, Workload};

/// Tokens per benchmarked stream.
const EVENTS: usize = 256;

/// A chat completion stream as OpenAI and vLLM send it: a role chunk, one
/// chunk per token, a finish chunk, usage, `[DONE]`.
fn stream_bytes() -> Vec<Vec<u8>> {
    let chunk = |delta: &str, finish: &str| {
        format!(
            "data: {{\"id\":\"chatcmpl-7d1c0a\",\"object\":\"chat.completion.chunk\",\"created\":1764230400,\
             \"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_0\",\"choices\":[{{\"index\":0,\
             \"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
        )
        .into_bytes()
    };
    let mut reads = vec![chunk(r#"{"role":"assistant","content":""}"#, "null")];
    for i in 0..EVENTS {
        reads.push(chunk(&format!(r#"{{"content":" word{}"}}"#, i % 50), "null"));
    }
    reads.push(chunk("{}", "\"stop\""));
    reads.push(
        b"data: {\"id\":\"chatcmpl-7d1c0a\",\"object\":\"chat.completion.chunk\",\"created\":1764230400,\
          \"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":256,\
          \"total_tokens\":276}}\n\ndata: [DONE]\n\n"
            .to_vec(),
    );
    reads
}

fn scenario(variant: &str) -> Scenario {
    let toml = format!("name = \"bench\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\n{variant}\n");
    Scenario::parse(&toml, Path::new("bench.toml")).expect("bench scenario is valid")
}

fn record(req: &WorkRequest) -> RequestRecord {
    let now = Instant::now();
    RequestRecord::new(req, &Ticket { seq: 0, intended: now, warmup: false, stage: 0, trace: None }, now)
}

fn sse(c: &mut Criterion) {
    let reads = stream_bytes();
    let whole: Vec<u8> = reads.concat();
    let s = scenario(
        "name = \"s\"\nendpoint = \"chat\"\nmodel = \"gpt-4o-mini\"\nmax_tokens = 256\nprompt_tokens = 8",
    );
    let req = Workload::new(&s.variants, 1).request(0);
    let mut g = c.benchmark_group("sse");
    // Every event counted: role, tokens, finish, usage, [DONE].
    g.throughput(Throughput::Elements(reads.len() as u64 + 1));
    // One network read per event, as a stream paced by the server arrives.
    g.bench_function("parse_and_extract/read_per_event", |b| {
        b.iter_batched_ref(
            || record(&req),
            |rec| {
                let mut d = StreamDecoder::default();
                let at = Instant::now();
                for r in &reads {
                    d.push(black_box(r), at, rec);
                }
                assert!(d.done());
            },
            BatchSize::SmallInput,
        )
    });
    // The whole stream in one read, as a fast server's bytes pile up.
    g.bench_function("parse_and_extract/one_read", |b| {
        b.iter_batched_ref(
            || record(&req),
            |rec| {
                let mut d = StreamDecoder::default();
                d.push(black_box(&whole), Instant::now(), rec);
                assert!(d.done());
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn histograms(c: &mut Criterion) {
    let s = scenario(
        "name = \"s\"\nendpoint = \"chat\"\nmodel = \"gpt-4o-mini\"\nmax_tokens = 64\nprompt_tokens = 8",
    );
    let req = Workload::new(&s.variants, 1).request(0);
    let t0 = Instant::now();
    let mut rec = record(&req);
    rec.first_token = Some(rec.sent + Duration::from_millis(120));
    rec.itl = (0..63).map(|i| Duration::from_micros(9_000 + i * 37)).collect();
    rec.end = rec.sent + Duration::from_millis(700);
    rec.output_tokens = 64;
    let info =
        || VariantInfo { name: "s".into(), streaming: true, embeddings: false, priced: false, swept: None };
    let mut m = Metrics::new([info()], 1, t0);
    let mut g = c.benchmark_group("histograms");
    g.throughput(Throughput::Elements(1));
    // A streamed request with 64 tokens: TTFT, e2e, 63 ITLs, TPOT, queue delay.
    g.bench_function("record_streamed_request_64_tokens", |b| b.iter(|| m.record(black_box(&rec))));
    let mut h = llmload::metrics::new_histogram();
    let mut v = 1u64;
    g.bench_function("record_one_value", |b| {
        b.iter(|| {
            v = (v * 6364136223846793005).wrapping_add(1442695040888963407);
            h.saturating_record(black_box(v >> 40));
        })
    });
    g.finish();
}

fn requests(c: &mut Criterion) {
    let literal = scenario(
        "name = \"s\"\nendpoint = \"chat\"\nmodel = \"gpt-4o-mini\"\nmax_tokens = 256\nstream = true\n\
         prompt = \"Summarise the following meeting notes in three bullet points.\"",
    );
    let generated = |n: u32| {
        scenario(&format!(
            "name = \"s\"\nendpoint = \"chat\"\nmodel = \"gpt-4o-mini\"\nmax_tokens = 256\nstream = true\nprompt_tokens = {n}"
        ))
    };
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Elements(1));
    let w = Workload::new(&literal.variants, 1);
    let mut seq = 0;
    g.bench_function("build_body/literal_prompt", |b| {
        b.iter(|| {
            seq += 1;
            black_box(w.request(seq))
        })
    });
    for n in [128, 1024] {
        let s = generated(n);
        let w = Workload::new(&s.variants, 1);
        g.bench_function(format!("generate_prompt_and_build_body/{n}_tokens"), |b| {
            b.iter(|| {
                seq += 1;
                black_box(w.request(seq))
            })
        });
    }
    g.finish();
}

/// A finished request's row of requests.csv, as the collector writes one
/// per request (to a file, in blocks of 64 KB).
fn csv_rows(c: &mut Criterion) {
    let s = scenario(
        "name = \"s\"\nendpoint = \"completions\"\nmodel = \"sim-small\"\nmax_tokens = 1\nprompt = \"hi\"",
    );
    let req = Workload::new(&s.variants, 1).request(0);
    let t0 = Instant::now();
    let mut rec = record(&req);
    rec.first_token = Some(rec.sent + Duration::from_micros(187));
    rec.end = rec.sent + Duration::from_micros(187);
    rec.output_tokens = 1;
    rec.finish_reason = Some("length".into());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let results = llmload::results::ResultsDir::create(
        Some(dir.path()),
        dir.path(),
        "bench",
        std::time::SystemTime::now(),
        llmload::results::Reuse::InPlace,
    )
    .expect("results directory");
    let mut w = results
        .requests_writer(vec!["s".into()])
        .expect("requests.csv")
        .describe(vec!["sim-small".into()], vec![256.0]);
    // As a lane does: formatted by the lane's `RowFormat`, handed to the
    // writer a block at a time.
    let format = w.format();
    let mut rows = Vec::with_capacity(ROW_BLOCK);
    let mut g = c.benchmark_group("results");
    g.throughput(Throughput::Elements(1));
    g.bench_function("write_request_row", |b| {
        b.iter(|| {
            rec.seq += 1;
            let next = format.format(black_box(&rec), t0, &mut rows);
            if rows.len() >= ROW_BLOCK {
                w.append(&rows, next);
                rows.clear();
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = sse, histograms, requests, csv_rows
}
criterion_main!(benches);
