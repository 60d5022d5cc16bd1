//! `[target]`, `[profiles]` and their resolution (target_rules.rs).

use std::path::Path;

use super::*;

const BODY: &str = r#"
[load]
concurrency = 1
requests = 1

[[variant]]
name = "a"
endpoint = "chat"
model = "m"
max_tokens = 4
prompt_tokens = 2
"#;

fn src(head: &str) -> String {
    format!("name = \"t\"\n{head}\n{BODY}")
}

fn live(head: &str, profile: Option<&str>) -> Live {
    match validate::parse(&src(head), Path::new("s.toml"), profile, None) {
        Ok(Scenario { target: Target::OpenAi(l), .. }) => *l,
        Ok(s) => panic!("not live: {:?}", s.target),
        Err(e) => panic!("{e}"),
    }
}

fn error(head: &str, profile: Option<&str>) -> String {
    validate::parse(&src(head), Path::new("s.toml"), profile, None).expect_err("rejected").to_string()
}

const PROFILES: &str = r#"
[target]
api_key_env = "SHARED_KEY"
organization = "org-shared"
headers = { "X-Team" = "bench", "X-Route" = "a" }

[profiles.staging]
base_url = "https://staging.example/v1"

[profiles.production]
base_url = "https://api.example/v1"
api_key_env = "PROD_KEY"
project = "proj_prod"
headers = { "x-route" = "b" }
"#;

#[test]
fn no_target_is_the_simulator_and_a_target_table_is_live() {
    let s = validate::parse(&src(""), Path::new("s.toml"), None, None).unwrap();
    assert_eq!(s.target, Target::Simulator);
    let l = live("[target]\nbase_url = \"http://127.0.0.1:1/v1/\"", None);
    assert_eq!(l.base_url, "http://127.0.0.1:1/v1");
    assert_eq!(l.base_url_from, "target.base_url");
    assert_eq!(l.api_key_env, "OPENAI_API_KEY");
}

#[test]
fn a_profile_overrides_target_key_by_key() {
    let l = live(PROFILES, Some("production"));
    assert_eq!(l.base_url, "https://api.example/v1");
    assert_eq!(l.base_url_from, "profiles.production.base_url");
    assert_eq!(l.api_key_env, "PROD_KEY");
    assert_eq!(l.organization.as_deref(), Some("org-shared"), "inherited from [target]");
    assert_eq!(l.project.as_deref(), Some("proj_prod"));
    assert_eq!(l.profile.as_deref(), Some("production"));
    let h: Vec<(&str, &str)> = l.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(h, [("x-route", "b"), ("X-Team", "bench")], "same header, any case: the profile's wins");
    let l = live(PROFILES, Some("staging"));
    assert_eq!((l.api_key_env.as_str(), l.project), ("SHARED_KEY", None));
}

#[test]
fn with_profiles_one_must_be_chosen() {
    let e = error(PROFILES, None);
    assert!(e.contains("s.toml:8:2: profiles: this scenario defines profiles \"production\", \"staging\": choose one with --profile"), "{e}");
    let e = error(PROFILES, Some("prod"));
    assert!(
        e.contains("unknown profile \"prod\" (--profile); this scenario defines \"production\", \"staging\""),
        "{e}"
    );
    let chosen = format!("default_profile = \"staging\"\n{PROFILES}");
    assert_eq!(live(&chosen, None).profile.as_deref(), Some("staging"));
    assert_eq!(live(&chosen, Some("production")).profile.as_deref(), Some("production"), "--profile wins");
    let e = error(&format!("default_profile = \"nope\"\n{PROFILES}"), None);
    assert!(e.contains("s.toml:2:1: default_profile: names no profile, got \"nope\""), "{e}");
    let e = error("", Some("staging"));
    assert!(e.contains("--profile \"staging\" given, but this scenario defines no [profiles.<name>]"), "{e}");
}

#[test]
fn every_profile_is_checked_even_unchosen_ones() {
    let bad = PROFILES.replace("https://api.example/v1", "ftp://api.example");
    let e = error(&bad, Some("staging"));
    assert!(e.contains("s.toml:12:1: profiles.production.base_url: must be http:// or https://"), "{e}");
    let e = error("[target]\nkind = \"simulator\"\n[profiles.a]\nbase_url = \"http://x/v1\"", None);
    assert!(e.contains("profiles are live targets"), "{e}");
}

#[test]
fn headers_that_would_carry_a_key_are_rejected_without_echoing_it() {
    for name in ["Authorization", "api-key", "X-Api-Key"] {
        let e = error(
            &format!("[target]\nbase_url = \"http://x/v1\"\nheaders = {{ \"{name}\" = \"Bearer abc\" }}"),
            None,
        );
        assert!(
            e.contains(&format!("s.toml:4:13: target.headers.{name}: \"{name}\" would carry a key")),
            "{e}"
        );
        assert!(e.contains("api_key_env") && !e.contains("abc"), "{e}");
    }
    let e =
        error("[target]\nbase_url = \"http://x/v1\"\nheaders = { \"X-Tenant\" = \"sk-live-123456\" }", None);
    assert!(
        e.contains("target.headers.X-Tenant: the value looks like an API key") && !e.contains("123456"),
        "{e}"
    );
    let e = error("[target]\nbase_url = \"http://x/v1\"\norganization = \"sk-proj-999\"", None);
    assert!(
        e.contains("s.toml:4:1: target.organization: looks like an API key") && !e.contains("999"),
        "{e}"
    );
    let e = error("[target]\nbase_url = \"http://x/v1\"\nheaders = { \"User-Agent\" = \"x\" }", None);
    assert!(e.contains("is set by llmload"), "{e}");
}

#[test]
fn ca_file_must_be_a_readable_pem_named_with_its_key_and_value() {
    let e = error("[target]\nbase_url = \"https://x/v1\"\nca_file = \"missing-ca.pem\"", None);
    assert!(e.contains("s.toml:4:1: target.ca_file: cannot read missing-ca.pem: "), "{e}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not.pem"), "hello").unwrap();
    let text = src("[target]\nbase_url = \"https://x/v1\"\nca_file = \"not.pem\"");
    let e = validate::parse(&text, &dir.path().join("s.toml"), None, None).unwrap_err().to_string();
    assert!(e.contains("target.ca_file: no PEM certificate in \"not.pem\""), "{e}");
    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let l = live(&format!("[target]\nbase_url = \"https://x/v1\"\nca_file = \"{pem}\""), None);
    assert_eq!(l.ca_file.as_deref(), Some(Path::new(pem)));
}

#[test]
fn urls_with_credentials_are_refused_without_echoing_them() {
    for (head, key) in [
        ("[target]\nbase_url = \"http://user:s3cret-pw@127.0.0.1:8000/v1\"\n", "target.base_url"),
        ("[target]\nbase_url = \"https://only-user@example.com/v1\"\n", "target.base_url"),
        ("[target]\n[profiles.p]\nbase_url = \"http://u:s3cret-pw@h/v1\"\n", "profiles.p.base_url"),
        ("[target]\nbase_url = [\"http://u:s3cret-pw@h/v1\"]\n", "target.base_url"),
    ] {
        let e = validate::parse(
            &src(head),
            Path::new("s.toml"),
            Some("p").filter(|_| head.contains("profiles")),
            None,
        )
        .expect_err(head)
        .to_string();
        assert!(e.contains(key), "{e}");
        assert!(!e.contains("s3cret-pw") && !e.contains("only-user"), "credentials echoed: {e}");
    }
}
