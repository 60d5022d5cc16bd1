//! `llmload validate`: parse and check scenario files, print their plans.

use std::path::PathBuf;

use super::plural;
use crate::error::Exit;
use crate::scenario::{self, Scenario};

/// Every file is checked, each problem printed; exit 2 if any file is bad.
pub fn command(paths: &[PathBuf], profile: Option<&str>) -> Exit {
    let mut exit = Exit::Ok;
    for p in paths {
        match Scenario::load_profile(p, profile) {
            Ok(s) => {
                sayln!("{}: ok ({} variant{})", p.display(), s.variants.len(), plural(s.variants.len()));
                sayln!("{}", describe_target(&s));
                sayln!("{}", scenario::Plan::new(&s).render(&s));
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit = Exit::BadInput;
            }
        }
    }
    exit
}

/// The resolved target, and where its URL came from (never the key).
fn describe_target(s: &Scenario) -> String {
    match &s.target {
        scenario::Target::Simulator => "target: the embedded simulator".into(),
        scenario::Target::OpenAi(l) => {
            let profile = l.profile.as_ref().map(|p| format!(", profile {p:?}")).unwrap_or_default();
            format!("target: {} (from {}{profile}), key from ${}", l.base_url, l.base_url_from, l.api_key_env)
        }
    }
}
