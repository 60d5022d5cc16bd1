//! Whole-product tests: scenarios run end to end against the simulator.
//!
//! Modules:
//! - `timing`: measured TTFT/ITL/e2e match a zero-jitter simulator.
//! - `results`: the results directory and the summary.json contract.
//! - `deploy`: the Kubernetes manifests in deploy/k8s, parsed and checked.
//! - `cli`: the binary's commands and exit codes.
//! - `language`: sweeps, stages, budgets, SLOs and plans, run for real.
//! - `scenarios`: every example scenario validates, and runs.
//! - `shard`: `run --shard K/N --start-at` as separate processes.
//! - `simulator`: the knee, rate limits and faults, seen through llmload.
//! - `client`: the HTTP backend against scripted servers (stream cases,
//!   timeouts, retries), timed against the server's writes.

mod util;

mod cli;
mod client;
mod deploy;
mod language;
mod results;
mod scenarios;
mod shard;
mod simulator;
mod timing;
