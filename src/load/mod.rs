//! Driving the load: a schedule of intended start times, one worker loop that
//! serves every mode, and the stop signal.

mod runner;
mod schedule;

pub use runner::{Progress, RunResult, run};
pub use schedule::{Schedule, StopReason, Ticket};
