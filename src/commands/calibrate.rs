//! `llmload calibrate`: fit a simulator profile from live runs.

use crate::calibrate;
use crate::cli::CalibrateArgs;
use crate::error::{Exit, Result};

pub fn command(args: &CalibrateArgs) -> Result<Exit> {
    let c = calibrate::calibrate(&args.dirs)?;
    let text = calibrate::to_toml(&c);
    // What is written must be a profile the simulator takes.
    if let Err(e) = llmload_mock::profile::parse(&text, 0) {
        let e = match e {
            llmload_mock::profile::ParseError::Toml(e) => e.to_string(),
            llmload_mock::profile::ParseError::Value(e) => e.to_string(),
        };
        return Err(anyhow::anyhow!("the fitted profile is not one the simulator takes (a bug): {e}").into());
    }
    std::fs::write(&args.out, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.out.display()))?;
    say!("{}", calibrate::render_report(&c));
    sayln!("\nprofile: {}", args.out.display());
    Ok(Exit::Ok)
}
