//! Driving the load: a schedule of intended start times, one worker loop that
//! serves every mode, the budget, and the stop signal.

mod abort;
mod budget;
mod clock;
mod limiter;
mod runner;
mod schedule;
mod shard;
pub mod shutdown;

pub use budget::BudgetGuard;
pub use limiter::Limiter;
pub use runner::{RunResult, Step, run};
pub use schedule::{Schedule, StopReason, Ticket};
pub use shard::{Shard, parse_start_at};
