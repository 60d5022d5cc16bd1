//! What the user sees while a run goes on: a progress bar on a terminal,
//! nothing otherwise (logs and pipes get the final table only). Messages such
//! as a new sweep step or a budget warning are always printed.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The state of a step, once a second.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub elapsed: Duration,
    /// When the step's plan ends in time (duration or stages).
    pub planned: Option<Duration>,
    /// Measured requests planned (`[load] requests`), if bounded by count.
    pub planned_requests: Option<u64>,
    /// Measured requests started so far.
    pub measured_started: u64,
    /// Requests that ended in the last second.
    pub per_s: u64,
    pub done: u64,
    pub errors: u64,
    pub in_flight: u64,
    /// Live TTFT, e.g. "p50 101 / p99 104 ms".
    pub ttft: String,
    pub warmup: bool,
}

/// Receives the runner's status ticks and messages.
pub trait Progress: Send {
    fn status(&mut self, s: &Status);
    /// A line the user must see (warnings, a new step); never suppressed.
    fn message(&mut self, line: &str);
}

/// The progress display for `llmload run`: a bar when both stdout and stderr
/// are terminals and not `--quiet`; otherwise messages only.
pub fn for_terminal(quiet: bool) -> Box<dyn Progress> {
    if !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        Box::new(Bar::new(ProgressDrawTarget::stderr()))
    } else {
        Box::new(Messages)
    }
}

/// Messages on stderr and no bar.
pub struct Messages;

impl Progress for Messages {
    fn status(&mut self, _: &Status) {}
    fn message(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// An indicatif bar over the step's planned time (or requests).
pub struct Bar {
    bar: ProgressBar,
}

const TEMPLATE: &str = "{prefix} [{bar:30.cyan/blue}] {msg}";

impl Bar {
    pub fn new(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(TEMPLATE).expect("static template is valid");
        bar.set_style(style.progress_chars("=> "));
        Bar { bar }
    }
}

impl Progress for Bar {
    fn status(&mut self, s: &Status) {
        // Requests when the plan is a count, else seconds.
        let (pos, len) = match (s.planned_requests, s.planned) {
            (Some(n), _) => (s.measured_started.min(n), Some(n)),
            (None, Some(p)) => (s.elapsed.as_secs().min(p.as_secs()), Some(p.as_secs())),
            (None, None) => (s.elapsed.as_secs(), None),
        };
        match len {
            Some(l) => self.bar.set_length(l),
            None => self.bar.unset_length(),
        }
        self.bar.set_position(pos);
        self.bar.set_prefix(prefix(s));
        self.bar.set_message(line(s));
    }

    fn message(&mut self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// "12s/60s" or "12s" (or "warm-up 1s").
fn prefix(s: &Status) -> String {
    let elapsed = s.elapsed.as_secs();
    let planned = s.planned.map(|p| format!("/{}s", p.as_secs())).unwrap_or_default();
    let warm = if s.warmup { "warm-up " } else { "" };
    format!("{warm}{elapsed:>3}s{planned}")
}

/// The numbers after the bar.
pub fn line(s: &Status) -> String {
    let of = s.planned_requests.map(|n| format!("/{n}")).unwrap_or_default();
    let eta = eta(s).map(|d| format!("  eta {}s", d.as_secs())).unwrap_or_default();
    format!(
        "{} req/s  done {}{of}  errors {}  in flight {}  ttft {}{eta}",
        s.per_s, s.done, s.errors, s.in_flight, s.ttft
    )
}

/// Time left: to the planned end, or for a count, the requests left at
/// the last second's rate (the sooner, when both bound the run).
fn eta(s: &Status) -> Option<Duration> {
    let by_time = s.planned.map(|p| p.saturating_sub(s.elapsed));
    let by_count = s
        .planned_requests
        .filter(|_| s.per_s > 0)
        .map(|n| Duration::from_secs(n.saturating_sub(s.measured_started) / s.per_s));
    match (by_time, by_count) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            elapsed: Duration::from_millis(12_400),
            planned: Some(Duration::from_secs(60)),
            per_s: 31,
            done: 370,
            errors: 2,
            in_flight: 8,
            ttft: "p50 101 / p99 104 ms".into(),
            ..Status::default()
        }
    }

    #[test]
    fn the_line_says_rate_done_errors_in_flight_and_ttft() {
        let s = status();
        assert_eq!(prefix(&s), " 12s/60s");
        assert_eq!(line(&s), "31 req/s  done 370  errors 2  in flight 8  ttft p50 101 / p99 104 ms  eta 47s");
        let s = Status { planned_requests: Some(1000), warmup: true, ..status() };
        assert_eq!(prefix(&s), "warm-up  12s/60s");
        assert!(line(&s).contains("done 370/1000"));
        // 1000 planned, 370 started, 31 a second: 20 s left, before the 47 s of the plan.
        let s = Status { planned_requests: Some(1000), measured_started: 370, ..status() };
        assert!(line(&s).ends_with("eta 20s"), "{}", line(&s));
        let s = Status { planned: None, ..status() };
        assert!(!line(&s).contains("eta"), "no end known: {}", line(&s));
    }

    #[test]
    fn the_bar_follows_requests_when_the_plan_is_a_count() {
        let mut b = Bar::new(ProgressDrawTarget::hidden());
        b.status(&Status { planned_requests: Some(1000), measured_started: 250, ..status() });
        assert_eq!((b.bar.position(), b.bar.length()), (250, Some(1000)));
        b.status(&status());
        assert_eq!((b.bar.position(), b.bar.length()), (12, Some(60)));
        b.status(&Status { planned: None, ..status() });
        assert_eq!(b.bar.length(), None);
    }
}
