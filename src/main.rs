use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = llmload::cli::Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        builder.worker_threads(usize::from(n));
        llmload::lanes::set_count(usize::from(n));
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(llmload::main(cli));
    ExitCode::from(code as u8)
}
