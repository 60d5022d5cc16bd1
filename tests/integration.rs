//! Whole-product tests: scenarios run end to end against the simulator.
//!
//! Modules:
//! - `timing`: measured TTFT/ITL/e2e match a zero-jitter simulator.
//! - `results`: the results directory and the summary.json contract.
//! - `report`: `llmload report` re-rendering from metrics.json and merging
//!   shards exactly; summary.csv; `--slo` overrides.
//! - `slo_gate`: `--slo` on `run`, exit codes and what stderr says, runs
//!   where nothing succeeded, `$GITHUB_STEP_SUMMARY`.
//! - `cli`: the binary's commands and exit codes.
//! - `language`: sweeps, stages, budgets, SLOs and plans, run for real.
//! - `scenarios`: every example scenario validates, and runs.
//! - `simulator`: the knee, rate limits and faults, seen through llmload.
//! - `client`: the HTTP backend against scripted servers (stream cases,
//!   timeouts, retries), timed against the server's writes.

mod util;

mod cli;
mod client;
mod language;
mod report;
mod results;
mod scenarios;
mod simulator;
mod slo_gate;
mod timing;
