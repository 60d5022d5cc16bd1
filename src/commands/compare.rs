//! `llmload compare`: print the comparison; exit 1 on any regression.

use crate::cli::CompareArgs;
use crate::compare;
use crate::error::{Exit, Result};

pub fn command(args: &CompareArgs) -> Result<Exit> {
    let c = compare::compare(&args.baseline, &args.candidate, args.max_regression)?;
    say!("{}", compare::render(&c, args.format));
    Ok(if c.passed { Exit::Ok } else { Exit::Failed })
}
