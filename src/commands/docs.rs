//! `llmload completions SHELL` and `llmload man`: generated from the same
//! command-line definition (`cli`) that parses the arguments, so they
//! cannot drift from it.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Exit, Result};

pub fn completions(shell: clap_complete::Shell) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "llmload", &mut script);
    print(&script)
}

/// `bytes` on stdout; a reader that stopped reading (`| head`) is no error.
fn print(bytes: &[u8]) -> Result<Exit> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::from(e).into()),
        _ => Ok(Exit::Ok),
    }
}

/// The page of llmload on stdout; with `out`, it and one page per command
/// (`llmload-run.1`, ...) written there.
pub fn man(out: Option<&Path>) -> Result<Exit> {
    let cmd = Cli::command();
    let Some(dir) = out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page).map_err(anyhow::Error::from)?;
        return print(&page);
    };
    std::fs::create_dir_all(dir).map_err(|e| crate::results::ResultsError::output(dir, e))?;
    let mut pages = vec![("llmload.1".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // clap names are static strings; a handful, once per process.
        let name: &'static str = Box::leak(format!("llmload-{}", sub.get_name()).into_boxed_str());
        pages.push((format!("{name}.1"), sub.clone().name(name)));
    }
    let mut written = String::new();
    for (file, page) in pages {
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page).render(&mut bytes).map_err(anyhow::Error::from)?;
        let path = dir.join(&file);
        crate::results::write_atomic(&path, &bytes)?;
        written += &format!("{}\n", path.display());
    }
    print(written.as_bytes())
}
