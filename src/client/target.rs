//! The server a run talks to: a live API, or the simulator started in-process.

use anyhow::Context;
use tokio::sync::oneshot;

use crate::client::{ApiKey, Endpoint};
use crate::scenario::{Scenario, Target};

/// A live target's key variable is unset: every request would go without a
/// key and be refused, so the run stops before the first one.
#[derive(Debug, thiserror::Error)]
#[error(
    "${var} is not set, so every request would be sent without a key and refused (401): set it, or write \
     api_key_env = \"\" in [target] (or the profile) for a server that needs no key; `llmload check` \
     diagnoses the target"
)]
pub struct MissingKey {
    pub var: String,
}

impl crate::error::InputProblem for MissingKey {}

/// Whether the scenario's target has the key it needs in the environment.
pub fn require_key(s: &Scenario) -> Result<(), MissingKey> {
    match &s.target {
        Target::OpenAi(live)
            if !live.api_key_env.is_empty() && ApiKey::from_env(&live.api_key_env).is_none() =>
        {
            Err(MissingKey { var: live.api_key_env.clone() })
        }
        _ => Ok(()),
    }
}

pub struct RunningTarget {
    /// Where requests go, with the key read from the environment.
    pub endpoint: Endpoint,
    simulator: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>)>,
}

impl RunningTarget {
    pub async fn start(s: &Scenario) -> anyhow::Result<Self> {
        match &s.target {
            Target::OpenAi(live) => Ok(RunningTarget {
                endpoint: Endpoint {
                    base_url: live.base_url.clone(),
                    key: ApiKey::from_env(&live.api_key_env),
                    live: Some((**live).clone()),
                },
                simulator: None,
            }),
            Target::Simulator => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .context("cannot start the simulator on 127.0.0.1")?;
                let base_url = format!("http://{}/v1", listener.local_addr()?);
                let (tx, rx) = oneshot::channel::<()>();
                let config = s.simulator.clone();
                let task = tokio::spawn(llmload_mock::serve(listener, config, async move {
                    let _ = rx.await;
                }));
                Ok(RunningTarget { endpoint: Endpoint::plain(&base_url, None), simulator: Some((tx, task)) })
            }
        }
    }

    pub fn base_url(&self) -> &str {
        &self.endpoint.base_url
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some((tx, task)) = self.simulator {
            let _ = tx.send(());
            task.await.context("simulator task failed")?.context("simulator failed")?;
        }
        Ok(())
    }
}
