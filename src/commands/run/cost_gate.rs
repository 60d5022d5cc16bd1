//! Before a live run: the worst case is printed, and a run that could cost
//! more than the threshold (or an amount nobody can bound) needs consent.
//!
//! Consent is `--yes`, a `[budget] max_usd` (the run then stops before it
//! could pass it), or "y" typed on a terminal. Without a terminal to ask
//! (CI, scripts) the run refuses with exit 2 and says how to proceed. The
//! embedded simulator costs nothing and is never gated.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::CostArgs;
use crate::error::{InputProblem, Result};
use crate::scenario::{Plan, Scenario, Target};

/// A live run not started for its cost: bad input (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

impl InputProblem for Refused {}

/// What to do before starting.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Go,
    /// Ask on the terminal; the text says why.
    Ask(String),
    /// Refuse (exit 2); the text says why and how to go on.
    Refuse(String),
}

/// The worst case in one line, for a live run.
pub fn worst_case_line(plan: &Plan) -> String {
    let n = |x: Option<f64>| x.map_or_else(|| "unbounded".to_owned(), |v| format!("{v:.0}"));
    let cost = match plan.worst_cost_usd {
        Some(c) => format!("${c:.4}"),
        None => "unknown".into(),
    };
    format!(
        "worst case: {} requests, {} input + {} output tokens, cost {cost}",
        n(plan.requests),
        n(plan.worst_input_tokens),
        n(plan.worst_output_tokens)
    )
}

/// The rule, without side effects (tested on its own).
pub fn decide(s: &Scenario, plan: &Plan, threshold: f64, yes: bool, interactive: bool) -> Gate {
    if s.target == Target::Simulator || yes || s.budget.max_usd.is_some() || free(s) {
        return Gate::Go;
    }
    let why = match plan.worst_cost_usd {
        Some(c) if c <= threshold => return Gate::Go,
        Some(c) => format!("the worst-case cost ${c:.4} is above the ${threshold} threshold"),
        None if plan.requests.is_none() => {
            "the worst-case cost is unbounded (closed loop without `requests`)".to_owned()
        }
        None => "the worst-case cost is unknown (a model has no [pricing])".to_owned(),
    };
    if interactive {
        Gate::Ask(why)
    } else {
        Gate::Refuse(format!(
            "refusing to start a live run: {why}, and there is no terminal to ask. Pass --yes to accept \
             it, or add [budget] max_usd = ... to cap the spend (the threshold is --confirm-above USD, \
             default 1)"
        ))
    }
}

/// Every model is priced at 0 (a local server): nothing to spend, whatever
/// the number of requests.
fn free(s: &Scenario) -> bool {
    s.variants.iter().all(|v| v.price.is_some_and(|p| p.input_per_1m == 0.0 && p.output_per_1m == 0.0))
}

/// Prints the worst case of a live run and applies the rule, asking on the
/// terminal when it may.
pub fn confirm(s: &Scenario, cost: &CostArgs) -> Result<()> {
    let (threshold, yes) = (cost.confirm_above, cost.yes);
    if s.target == Target::Simulator {
        return Ok(());
    }
    let plan = Plan::new(s);
    eprintln!("{}", worst_case_line(&plan));
    if let Some(m) = s.budget.max_usd {
        eprintln!("budget: the run stops before it could spend more than ${m}");
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    match decide(s, &plan, threshold, yes, interactive) {
        Gate::Go => Ok(()),
        Gate::Refuse(msg) => Err(Refused(msg).into()),
        Gate::Ask(why) => {
            eprint!("{why}. Start the run? [y/N] ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer).map_err(anyhow::Error::from)?;
            if matches!(answer.trim(), "y" | "Y" | "yes") {
                Ok(())
            } else {
                Err(Refused("not started (answered no); --yes skips the question".into()).into())
            }
        }
    }
}

impl CostArgs {
    /// `--confirm-above` must be an amount.
    pub fn check(&self) -> Result<()> {
        if self.confirm_above.is_finite() && self.confirm_above >= 0.0 {
            return Ok(());
        }
        let problem = format!("must be a USD amount >= 0, got {}", self.confirm_above);
        Err(crate::error::ArgumentError { arg: "--confirm-above", problem }.into())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A live scenario of 20 requests of 100 + 50 tokens of model `m`.
    fn live(extra: &str) -> Scenario {
        let text = format!(
            "name = \"g\"\n[target]\nbase_url = \"http://127.0.0.1:9/v1\"\n[load]\nconcurrency = 2\nrequests = 20\n\
             [[variant]]\nname = \"a\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 50\nprompt_tokens = 100\n{extra}"
        );
        Scenario::parse(&text, Path::new("g.toml")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn gate(s: &Scenario, yes: bool, interactive: bool) -> Gate {
        decide(s, &Plan::new(s), 1.0, yes, interactive)
    }

    // 20 × (100 × 200 + 50 × 200) / 1e6 = $0.60; × 10 = $6.
    const CHEAP: &str = "[pricing.m]\ninput_per_1m = 200\noutput_per_1m = 200\n";
    const DEAR: &str = "[pricing.m]\ninput_per_1m = 2000\noutput_per_1m = 2000\n";

    #[test]
    fn under_the_threshold_goes_above_it_needs_consent() {
        assert_eq!(gate(&live(CHEAP), false, false), Gate::Go);
        let dear = live(DEAR);
        assert!(
            worst_case_line(&Plan::new(&dear))
                .contains("20 requests, 2000 input + 1000 output tokens, cost $6.0000")
        );
        let Gate::Refuse(msg) = gate(&dear, false, false) else { panic!() };
        assert!(
            msg.contains("$6.0000 is above the $1 threshold")
                && msg.contains("--yes")
                && msg.contains("[budget]"),
            "{msg}"
        );
        assert!(matches!(gate(&dear, false, true), Gate::Ask(_)));
        assert_eq!(gate(&dear, true, false), Gate::Go);
        let capped = live(&format!("{DEAR}[budget]\nmax_usd = 0.5\n"));
        assert_eq!(gate(&capped, false, false), Gate::Go, "a hard budget is consent");
    }

    #[test]
    fn an_unknown_worst_case_needs_consent_off_a_terminal() {
        let Gate::Refuse(msg) = gate(&live(""), false, false) else { panic!() };
        assert!(msg.contains("unknown (a model has no [pricing])"), "{msg}");
        let mut unbounded = live(CHEAP);
        unbounded.load.requests = None;
        let Gate::Refuse(msg) = gate(&unbounded, false, false) else { panic!() };
        assert!(msg.contains("unbounded"), "{msg}");
        assert!(matches!(gate(&live(""), false, true), Gate::Ask(_)));
    }

    #[test]
    fn the_simulator_is_never_gated() {
        let mut s = live(DEAR);
        s.target = Target::Simulator;
        assert_eq!(gate(&s, false, false), Gate::Go);
    }

    #[test]
    fn a_target_priced_at_zero_runs_without_consent_even_unbounded() {
        let free = "[pricing.m]\ninput_per_1m = 0\noutput_per_1m = 0\n";
        let mut s = live(free);
        assert_eq!(gate(&s, false, false), Gate::Go);
        s.load.requests = None;
        s.load.stages[0].duration = Some(std::time::Duration::from_secs(60));
        assert_eq!(gate(&s, false, false), Gate::Go, "a closed loop bounded by duration only");
    }
}
