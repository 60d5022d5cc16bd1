//! The commands of the command line, one module each, and the exit code of
//! their outcome. Each command takes its parsed arguments (`cli`), does its
//! work through the library's rooms, prints what the user reads, and returns
//! an `Exit`, or an `Error` whose kind decides the code.

/// `print!` to stdout, except that a reader gone away (`llmload run … |
/// head`) is no panic: what it would have read is dropped, and the command
/// ends as it would have (its results are on disk, its exit code stands).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!`, as `say!`.
macro_rules! sayln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod calibrate;
pub mod check;
mod compare;
mod docs;
mod mock;
pub mod report;
pub mod run;
pub mod search;
mod validate;

use crate::cli::{Cli, Command};
use crate::error::{Error, Exit};
use crate::metrics::Summary;

/// Runs one parsed command line; prints errors; returns the exit code.
pub async fn main(cli: Cli) -> Exit {
    let result = match cli.command {
        // On the runtime's workers, not the thread that blocks on `main`,
        // which would be one more thread to wake (the progress line, the
        // embedded simulator) beside the lanes that send the requests.
        Command::Run(args) => match tokio::spawn(run::command(args)).await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the run task failed: {e}").into()),
        },
        Command::Validate { scenarios, profile } => Ok(validate::command(&scenarios, profile.as_deref())),
        Command::Check(args) => check::command(args).await,
        Command::Report(args) => report::command(args),
        Command::Mock(args) => mock::command(args).await,
        Command::Compare(args) => compare::command(&args),
        Command::Calibrate(args) => calibrate::command(&args),
        Command::Search(args) => match tokio::spawn(search::command(args)).await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the search task failed: {e}").into()),
        },
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(out.as_deref()),
    };
    result.unwrap_or_else(|e: Error| {
        eprintln!("error: {e:#}");
        e.exit()
    })
}

/// Exit 1, said on stderr, when nothing succeeded or an objective was
/// missed (each named with its actual value and limit); else 0.
fn verdict(s: &Summary) -> Exit {
    let mut exit = Exit::Ok;
    if s.total.requests.ok == 0 {
        eprintln!("error: no request succeeded ({} ended in error)", s.total.requests.errors);
        exit = Exit::Failed;
    }
    for r in s.slo.iter().filter(|r| !r.passed) {
        eprintln!("error: service-level objective missed: {}", crate::report::slo_line(r));
        exit = Exit::Failed;
    }
    exit
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
