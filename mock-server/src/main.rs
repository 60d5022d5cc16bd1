//! `llmload-mock`: the simulator as a standalone server, for pointing any
//! OpenAI-compatible client at a target with known latency. Everything but argument
//! parsing lives in the library, which `llmload run` also embeds.

use std::io::Write;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use llmload_mock::{ModelProfile, SimConfig};

/// OpenAI-compatible LLM API simulator: streams synthetic tokens at a set time to first
/// token and inter-token latency.
#[derive(Parser)]
#[command(name = "llmload-mock", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (printed on start).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Time to first token, e.g. 200ms, 1s.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    ttft: Duration,
    /// Inter-token latency, e.g. 20ms.
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    itl: Duration,
    /// Relative spread of every duration: d * max(0, 1 + jitter * N(0,1)). 0 is exact.
    #[arg(long, default_value_t = 0.0)]
    jitter: f64,
    /// Seed of the output text and of the jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let profile = ModelProfile { ttft: args.ttft, itl: args.itl, jitter: args.jitter };
    if let Err(e) = profile.validate() {
        Args::command().error(clap::error::ErrorKind::ValueValidation, e).exit();
    }
    let config = SimConfig { default_profile: profile, seed: args.seed, ..SimConfig::default() };

    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "llmload-mock listening on http://{addr}/v1")?;
    stdout.flush()?;
    drop(stdout);

    let ctrl_c = async {
        // If the handler cannot be installed, serve until killed rather than not at all.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    llmload_mock::serve(listener, config, ctrl_c).await?;
    Ok(())
}
