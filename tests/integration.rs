//! Whole-product tests: scenarios run end to end against the simulator.
//!
//! Modules:
//! - `timing`: measured TTFT/ITL/e2e match a zero-jitter simulator.
//! - `results`: the results directory and the summary.json contract.
//! - `report`: `llmload report` re-rendering from metrics.json and merging
//!   shards exactly; summary.csv; `--slo` overrides.
//! - `slo_gate`: `--slo` on `run`, exit codes and what stderr says, runs
//!   where nothing succeeded, `$GITHUB_STEP_SUMMARY`.
//! - `deploy`: the Kubernetes manifests in deploy/k8s, parsed and checked.
//! - `cli`: the binary's commands and exit codes.
//! - `language`: sweeps, stages, budgets, SLOs and plans, run for real.
//! - `scenarios`: every example scenario validates, and runs.
//! - `shard`: `run --shard K/N --start-at` as separate processes.
//! - `simulator`: the knee, rate limits and faults, seen through llmload.
//! - `compare`: baseline vs candidate runs: reruns pass, a slower TTFT
//!   fails with exit 1, bad input exits 2.
//! - `visuals`: charts (SVG and PNG) and the self-contained report.html.
//! - `client`: the HTTP backend against scripted servers (stream cases,
//!   timeouts, retries), timed against the server's writes.
//! - `live`: `check`, profiles, headers and the cost gate against a
//!   separately started simulator.
//! - `real_server`: opt-in, against a real server (LLMLOAD_REAL_SERVER_URL).
//! - `throughput`: throughput counts the work completed inside the measured
//!   window (and each stage), against requests.csv and the simulator.
//! - `whole_run`: the worker loop on a deterministic fake backend: every stop
//!   reason and its exit code.
//! - `compat`: a results directory written by an older llmload still loads,
//!   renders and compares.
//! - `golden`: the table, Markdown and CSV renderings of a fixed summary.
//! - `alloc`: what a run freed is given back before its report is drawn.

mod util;

mod alloc;
mod bad_input;
mod calibrate;
mod choices;
mod cli;
mod client;
mod compare;
mod compat;
mod deploy;
mod embeddings;
mod golden;
mod goodput;
mod language;
mod live;
mod llama_server;
mod outputs;
mod readme;
mod real_server;
mod reasoning;
mod report;
mod responses;
mod results;
mod scenarios;
mod search;
mod sessions;
mod shard;
mod simulator;
mod slo_gate;
mod throughput;
mod timing;
mod trace;
mod transport;
mod visuals;
mod whole_run;
