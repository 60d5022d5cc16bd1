//! Every example scenario in scenarios/ is valid, and the ones that target
//! the simulator run (shortened to about half a second per stage and step).

use std::time::Duration;

use llmload::run_loaded;
use llmload::scenario::{Scenario, Target};

#[test]
fn every_example_scenario_validates() {
    let files = crate::util::example_scenarios();
    assert!(files.len() >= 10, "scenarios/ holds the examples: {files:?}");
    for path in files {
        Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The same plan, half a second per stage and step.
fn shorten(s: &mut Scenario) {
    s.load.warmup = Duration::ZERO;
    for st in &mut s.load.stages {
        st.duration = st.duration.map(|d| d.min(Duration::from_millis(500)));
    }
    s.load.requests = s.load.requests.map(|r| r.min(20));
    // Short answers: a request in flight at the end of a step must not
    // outlast the step by seconds.
    for v in &mut s.variants {
        v.max_tokens = v.max_tokens.min(16);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_simulator_example_runs() {
    for path in crate::util::example_scenarios() {
        let mut s = Scenario::load(&path).unwrap();
        if s.target != Target::Simulator {
            continue;
        }
        shorten(&mut s);
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::util::options(path.clone(), dir.path());
        let (_tx, rx) = tokio::sync::watch::channel(llmload::load::shutdown::Stop::Running);
        let out = run_loaded(s, opts, rx).await.unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        for v in &out.summary.variants {
            assert!(
                v.requests.ok > 0,
                "{}: variant {} had no ok request: {:?}",
                path.display(),
                v.name,
                v.requests
            );
        }
    }
}
