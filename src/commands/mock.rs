//! `llmload mock`: the simulator on its own, as `llmload-mock` runs it.

use crate::error::{Exit, Result};

pub async fn command(args: llmload_mock::Args) -> Result<Exit> {
    let config = llmload_mock::standalone_config(&args)?;
    llmload_mock::serve_configured(&args, config, llmload_mock::stopped()).await?;
    Ok(Exit::Ok)
}
