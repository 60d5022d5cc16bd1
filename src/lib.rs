//! llmload: load-testing and latency-benchmarking for OpenAI-compatible APIs.
//!
//! The crate is laid out along its data flow (docs/architecture.md):
//!
//! - `scenario`: the scenario file as written and validated (sweeps expanded);
//! - `tokens`: token counting, shared by validation, prompts and the client;
//! - `workload`: what each request carries (variant mix, prompts, bodies);
//! - `load`: when requests start (`Schedule`) and the one worker loop that
//!   sends them (`run`), with shutdown, budget, client-side limits, shards;
//! - `client`: the `Backend` trait and its HTTP implementation, the target
//!   (a live API, or the simulator started in-process);
//! - `metrics`: records, HDR histograms and the one computed `Summary`;
//! - `results`: the results directory's one typed owner: every file in it is
//!   written and read back here (run.json, requests.csv, metrics.json), and
//!   shards merge here;
//! - `report`: every output format, rendered from typed values;
//! - `compare`: a candidate run judged against a baseline;
//! - `calibrate`: a simulator profile fitted from live runs;
//! - `progress`: what the user sees while a run goes on;
//! - `lanes`: the client's threads, each a runtime of its own with its share
//!   of the users, connections and measurements;
//! - `alloc`: the allocator, and returning what a run freed before its report;
//! - `commands`: one module per command of the command line (`cli`), and
//!   the exit code of each outcome (`error`).

pub mod alloc;
pub mod calibrate;
pub mod capacity;
pub mod cli;
pub mod client;
pub mod commands;
pub mod compare;
mod error;
pub mod lanes;
pub mod load;
pub mod metrics;
pub mod progress;
pub mod report;
pub mod results;
pub mod scenario;
pub mod tokens;
pub mod workload;

pub use commands::main;
pub use commands::report::{ReportOptions, ReportOutcome, report_results};
pub use commands::run::{RunOptions, RunOutcome, execute_with, run_loaded, run_scenario};
pub use error::{ArgumentError, Error, Exit, InputProblem};
