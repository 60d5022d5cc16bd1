//! The simulator as a standalone server: the arguments and the entry point shared by
//! the `llmload-mock` binary and `llmload mock`, so that both take the same flags and
//! print the same first line.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::SimConfig;
use crate::profile;

/// Serve an OpenAI-compatible API with simulated latency, capacity, rate limits and
/// faults.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Profile (TOML) with the models and their behaviour; without it the built-in
    /// synthetic profile serves `sim-small` and `sim-large`.
    #[arg(long, value_name = "PROFILE.toml")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free one (printed on start).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Accept only this API key (repeatable; adds to the profile's `api_keys`). Without
    /// any, every key is accepted.
    #[arg(long = "api-key", value_name = "KEY")]
    pub api_keys: Vec<String>,
    /// Seed of every output text, sampled duration and length, and injected fault.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Record how late each token event left after its deadline, and print the
    /// quantiles on stderr when stopped: the simulator's own error, which is in
    /// every figure a client measures against it.
    #[arg(long)]
    pub lateness: bool,
}

/// The configuration `args` ask for: the profile file's, or the built-in one, with the
/// extra keys. A profile that cannot be used is a [`profile::LoadError`] naming the
/// file, line and key.
pub fn config(args: &Args) -> Result<SimConfig, profile::LoadError> {
    let mut config = match &args.config {
        Some(path) => profile::load(path, args.seed)?,
        None => SimConfig::builtin(args.seed),
    };
    config.api_keys.extend(args.api_keys.iter().cloned());
    Ok(config)
}

/// Loads the profile, binds, prints `llmload-mock listening on http://ADDR/v1` as the
/// first line of stdout, and serves until `shutdown` completes.
///
/// A profile that cannot be used fails with a [`profile::LoadError`] inside the
/// `anyhow::Error`; [`config`] then [`serve_configured`] keep the two apart.
pub async fn run_standalone(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = config(&args)?;
    serve_configured(&args, config, shutdown).await
}

/// Binds, prints the first line and serves `config` until `shutdown` completes.
pub async fn serve_configured(
    args: &Args,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener =
        tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "llmload-mock listening on http://{local}/v1")?;
    stdout.flush()?;
    drop(stdout);

    if args.lateness {
        crate::lateness::enable();
    }
    crate::serve(listener, config, shutdown).await?;
    if args.lateness {
        eprintln!("{}", crate::lateness::snapshot());
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (what `kill` and container runtimes send): either stops the
/// server as cleanly. A handler that cannot be installed leaves the other one.
pub async fn stopped() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => _ = s.recv().await,
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
