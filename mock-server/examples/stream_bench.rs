//! How late are tokens, and how much memory does a stream take, with thousands of
//! concurrent streams? The simulator runs in a child process (this program with
//! `--server`), so that its memory is its own; the client runs here, on the same cores.
//!
//! `cargo run --release -p llmload-mock --example stream_bench -- [streams] [tokens] [ramp_s] [--h2]`
//! (defaults 2000, 200, 2; TTFT 200 ms, ITL 20 ms, so 100,000 tokens/s at full load;
//! one HTTP/1.1 connection per stream, or with `--h2` HTTP/2 with prior knowledge,
//! which multiplexes the streams over few connections).
//!
//! Reported:
//! - simulator lateness: inside the server, how long after its deadline each token
//!   event left the stream (what the simulator itself adds);
//! - client-seen lateness: when the client had each token against its schedule counted
//!   from the role chunk (adds the client's own delays and the loopback);
//! - memory per stream: the server's resident memory with every stream open, minus its
//!   resident memory when idle, over the number of streams.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use llmload_mock::{ModelProfile, SimConfig, lateness, serve};
use tokio::time::Instant;

const TTFT: Duration = Duration::from_millis(200);
const ITL: Duration = Duration::from_millis(20);
const CONTENT: &[u8] = b"\"delta\":{\"content\":\" ";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Runtime::new()?;
    if args.first().map(String::as_str) == Some("--server") {
        return rt.block_on(server());
    }
    let h2 = args.iter().any(|a| a == "--h2");
    let mut numbers = args.iter().filter(|a| *a != "--h2").map(|a| a.parse::<u32>());
    let streams = numbers.next().transpose()?.unwrap_or(2000).max(1);
    let tokens = numbers.next().transpose()?.unwrap_or(200).max(2);
    let ramp = Duration::from_secs(numbers.next().transpose()?.unwrap_or(2).into());
    rt.block_on(client(streams, tokens, ramp, h2))
}

/// Serves until stdin closes, then prints the lateness it recorded.
async fn server() -> anyhow::Result<()> {
    lateness::enable();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}/v1", listener.local_addr()?);
    let config = SimConfig {
        default_profile: ModelProfile { ttft: TTFT, itl: ITL, ..ModelProfile::default() },
        ..SimConfig::default()
    };
    let stdin_closed = async {
        let _ =
            tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await;
    };
    serve(listener, config, stdin_closed).await?;
    println!("{}", lateness::snapshot());
    Ok(())
}

async fn client(streams: u32, tokens: u32, ramp: Duration, h2: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe).arg("--server").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?);
    let mut base = String::new();
    out.read_line(&mut base)?;
    let url = format!("{}/chat/completions", base.trim());

    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(streams as usize);
    if h2 {
        builder = builder.http2_prior_knowledge();
    }
    let client = builder.build()?;
    let body = serde_json::json!({
        "model": "bench", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": tokens, "stream": true,
    });
    // Warm both sides up, then take the idle server's memory.
    for _ in 0..10 {
        one_stream(
            &client,
            &url,
            &serde_json::json!({
                "model": "w", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true,
            }),
        )
        .await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = rss_kib(pid)?;

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..streams {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        let start = started + ramp * i / streams;
        tasks.spawn(async move {
            tokio::time::sleep_until(start).await;
            one_stream(&client, &url, &body).await
        });
    }
    // Every stream is open from the end of the ramp until the first ones finish.
    let full_from = started + ramp + TTFT;
    let full_until = started + TTFT + ITL * (tokens - 1);
    let mut peak = idle;
    let sampler = async {
        tokio::time::sleep_until(full_from).await;
        while Instant::now() < full_until {
            peak = peak.max(rss_kib(pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let mut results = Vec::new();
    let collect = async {
        while let Some(result) = tasks.join_next().await {
            results.push(result);
        }
    };
    tokio::join!(sampler, collect);
    let elapsed = started.elapsed();

    let (mut opened, mut first, mut rest, mut failed) = (vec![], vec![], vec![], 0);
    for result in results {
        match result? {
            Ok(late) if late.len() > 1 => {
                opened.push(late[0]);
                first.push(late[1]);
                rest.extend_from_slice(&late[2..]);
            }
            _ => failed += 1,
        }
    }
    let server_cpu = cpu_time(&format!("/proc/{pid}/stat"))?;
    let client_cpu = cpu_time("/proc/self/stat")?;
    drop(child.stdin.take());
    let mut stats = String::new();
    out.read_line(&mut stats)?;
    child.wait()?;

    let events = first.len() + rest.len();
    println!(
        "{streams} streams x {tokens} tokens at {ITL:?} ITL (ramp {ramp:?}, {}) in {elapsed:.2?}, {failed} failed, {:.0} token events/s",
        if h2 { "HTTP/2" } else { "HTTP/1.1" },
        events as f64 / elapsed.as_secs_f64()
    );
    print!("{stats}");
    println!(
        "cpu over the run: server {server_cpu:.2?}, client {client_cpu:.2?} ({:.0}% and {:.0}% of one core)",
        server_cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0,
        client_cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0
    );
    println!("client-seen, send to role chunk: {}", summary(opened));
    println!("client-seen lateness, first token: {}", summary(first));
    println!("client-seen lateness, later tokens: {}", summary(rest));
    if full_from < full_until {
        let per_stream = (peak.saturating_sub(idle)) as f64 * 1024.0 / f64::from(streams);
        println!(
            "server memory: idle {idle} KiB, all streams open {peak} KiB: {:.1} KiB per stream",
            per_stream / 1024.0
        );
    } else {
        println!("server memory: not measured (streams too short to be all open at once)");
    }
    std::io::stdout().flush()?;
    Ok(())
}

/// User + system CPU time of a process, from its `/proc/<pid>/stat`.
fn cpu_time(stat: &str) -> anyhow::Result<Duration> {
    let text = std::fs::read_to_string(stat)?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = text.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| anyhow::anyhow!("bad stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11)
        .zip(fields.get(12))
        .map_or(Ok(0), |(u, s)| Ok::<_, std::num::ParseIntError>(u.parse::<u64>()? + s.parse::<u64>()?))?;
    // The kernel's USER_HZ, 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(line.split_whitespace().nth(1).ok_or_else(|| anyhow::anyhow!("bad VmRSS"))?.parse()?)
}

fn summary(mut late: Vec<Duration>) -> String {
    if late.is_empty() {
        return "none".into();
    }
    late.sort();
    let pct = |p: f64| late[((late.len() - 1) as f64 * p) as usize];
    format!("p50 {:.2?} p99 {:.2?} p99.9 {:.2?} max {:.2?}", pct(0.5), pct(0.99), pct(0.999), pct(1.0))
}

/// The time from sending to the role chunk, then the lateness of every content event
/// against the schedule counted from the role chunk.
async fn one_stream(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> anyhow::Result<Vec<Duration>> {
    let sent = Instant::now();
    let mut events = client.post(url).json(body).send().await?.bytes_stream();
    let (mut buf, mut late, mut index) = (Vec::new(), Vec::new(), 0u32);
    let mut opened = None;
    while let Some(chunk) = events.next().await {
        let at = Instant::now();
        buf.extend_from_slice(&chunk?);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            if opened.is_none() {
                // The role chunk, sent on arrival: from here on it is pacing.
                opened = Some(at);
                late.push(at - sent);
            } else if event.windows(CONTENT.len()).any(|w| w == CONTENT) {
                let due = opened.unwrap_or(sent) + TTFT + ITL * index;
                late.push(at.saturating_duration_since(due));
                index += 1;
            }
        }
    }
    Ok(late)
}
