//! How late are tokens under many concurrent streams? Starts the simulator in-process,
//! opens N streams (ramped over one second, as a real run should), and reports, as the
//! client saw it, the time to the role chunk (connection and request handling) and how
//! late each content event was against its schedule counted from that chunk.
//!
//! `cargo run --release -p llmload-mock --example soak -- [streams] [tokens]`
//! (defaults 1024 and 50; ttft 200 ms, itl 20 ms). The client shares the runtime and the
//! cores, so this is an upper bound on the simulator's own lateness.

use std::time::Duration;

use futures_util::StreamExt;
use llmload_mock::{ModelProfile, SimConfig, serve};
use tokio::time::Instant;

const TTFT: Duration = Duration::from_millis(200);
const ITL: Duration = Duration::from_millis(20);
const CONTENT: &[u8] = b"\"delta\":{\"content\":";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let streams = args.next().transpose()?.unwrap_or(1024).max(1);
    let tokens = args.next().transpose()?.unwrap_or(50);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/chat/completions", listener.local_addr()?);
    let config = SimConfig {
        default_profile: ModelProfile { ttft: TTFT, itl: ITL, jitter: 0.0 },
        ..SimConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, config, async {
        let _ = stopped.await;
    }));

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build()?;
    let body = serde_json::json!({
        "model": "soak", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": tokens, "stream": true,
    });
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..streams {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        let start = started + Duration::from_secs(1) * i / streams;
        tasks.spawn(async move {
            tokio::time::sleep_until(start).await;
            one_stream(&client, &url, &body).await
        });
    }
    let (mut opened, mut first, mut rest, mut failed) = (vec![], vec![], vec![], 0);
    while let Some(result) = tasks.join_next().await {
        match result? {
            Ok(late) if late.len() > 1 => {
                opened.push(late[0]);
                first.push(late[1]);
                rest.extend_from_slice(&late[2..]);
            }
            _ => failed += 1,
        }
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    server.await??;

    let events = opened.len() + first.len() + rest.len();
    println!(
        "{streams} streams x {tokens} tokens in {elapsed:.2?}, {failed} failed, {:.0} events/s",
        events as f64 / elapsed.as_secs_f64()
    );
    // Time to the role chunk is connection setup and request handling; token lateness
    // is measured from it, so it is the pacing proper.
    println!("  send to role chunk: {}", summary(opened));
    println!("  first token: {}", summary(first));
    println!("  later tokens: {}", summary(rest));
    Ok(())
}

fn summary(mut late: Vec<Duration>) -> String {
    if late.is_empty() {
        return "none".into();
    }
    late.sort();
    let pct = |p: f64| late[((late.len() - 1) as f64 * p) as usize];
    format!("p50 {:.2?} p99 {:.2?} p99.9 {:.2?} max {:.2?}", pct(0.5), pct(0.99), pct(0.999), pct(1.0))
}

/// The time from sending to the role chunk, then the lateness of every content event.
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
