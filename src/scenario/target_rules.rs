//! `[target]` and `[profiles.<name>]`: where a run sends, resolved.
//!
//! Precedence, key by key: the chosen profile, then `[target]`, then the
//! environment (`OPENAI_BASE_URL`; the key's variable defaults to
//! `OPENAI_API_KEY`), then `https://api.openai.com/v1`. Without `[target]` and
//! without profiles the scenario runs on the embedded simulator: an
//! environment variable alone never turns a scenario into a live, billed run.
//! With profiles, one must be chosen (`--profile` or `default_profile`), so a
//! run never picks production by accident.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::header::{HeaderName, HeaderValue};

use super::file::{LiveFile, TargetFile, TargetKind};
use super::locate::KeyPath;
use super::validate::Problems;
use super::{BASE_URL_ENV, DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL, Live, Target};

/// Headers that carry credentials: a value for them in a file would be a key
/// in the file.
const CREDENTIAL_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "ocp-apim-subscription-key",
    "x-goog-api-key",
];
/// Headers llmload sets itself (organization and project have their own keys).
const OWN_HEADERS: [&str; 8] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "connection",
    "transfer-encoding",
    "openai-organization",
    "openai-project",
];
/// How keys and tokens of common providers begin.
pub(super) const KEY_PREFIXES: [&str; 9] =
    ["sk-", "sk_", "pk-", "bearer ", "basic ", "hf_", "gsk_", "aiza", "xai-"];

/// The profile asked for on the command line, the scenario's default, and the
/// scenario's directory (`ca_file` is relative to it).
pub(super) struct Chosen<'a> {
    pub profile: Option<&'a str>,
    pub default: Option<&'a str>,
    pub dir: &'a Path,
}

pub(super) fn target(
    raw: Option<TargetFile>,
    profiles: &BTreeMap<String, LiveFile>,
    chosen: Chosen,
    p: &mut Problems,
) -> Option<Target> {
    let defined = || profiles.keys().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ");
    let mut ok = true;
    // Every profile is checked, chosen or not: a typo in production shows
    // while validating staging.
    for (name, prof) in profiles {
        ok &= check_live(prof, &KeyPath::root("profiles").key(name), chosen.dir, p);
    }
    if let Some(d) = chosen.default {
        ok &= p.check(profiles.contains_key(d), "default_profile", || {
            format!("names no profile, got {d:?}; defined: {}", defined())
        });
    }
    let kind = match &raw {
        Some(t) => t.kind.unwrap_or(TargetKind::Openai),
        None if profiles.is_empty() => TargetKind::Simulator,
        None => TargetKind::Openai,
    };
    if kind == TargetKind::Simulator {
        let t = raw.map(TargetFile::live).unwrap_or_default();
        for (set, key) in [
            (t.base_url.is_some(), "base_url"),
            (t.api_key_env.is_some(), "api_key_env"),
            (t.organization.is_some(), "organization"),
            (t.project.is_some(), "project"),
            (t.headers.is_some(), "headers"),
            (t.ca_file.is_some(), "ca_file"),
        ] {
            p.check(!set, KeyPath::root("target").key(key), || {
                "not used with kind = \"simulator\" (the simulator runs in-process on 127.0.0.1)".into()
            });
        }
        p.check(profiles.is_empty(), "profiles", || {
            "profiles are live targets: not used with target.kind = \"simulator\"".into()
        });
        if let (Some(n), true) = (chosen.profile, profiles.is_empty()) {
            p.push(
                "profiles",
                format!("--profile {n:?} given, but this scenario defines no [profiles.<name>]"),
            );
            return None;
        }
        return Some(Target::Simulator);
    }
    if let Some(n) = chosen.profile {
        if profiles.is_empty() {
            p.push(
                "profiles",
                format!("--profile {n:?} given, but this scenario defines no [profiles.<name>]"),
            );
            return None;
        }
        if !profiles.contains_key(n) {
            p.push(
                "profiles",
                format!("unknown profile {n:?} (--profile); this scenario defines {}", defined()),
            );
            return None;
        }
    }
    let name = chosen.profile.or(chosen.default);
    if name.is_none() && !profiles.is_empty() {
        p.push(
            "profiles",
            format!(
                "this scenario defines profiles {}: choose one with --profile NAME (or set default_profile)",
                defined()
            ),
        );
        return None;
    }
    let base = raw.map(TargetFile::live).unwrap_or_default();
    ok &= check_live(&base, &KeyPath::root("target"), chosen.dir, p);
    let prof = name.and_then(|n| profiles.get(n)).cloned().unwrap_or_default();
    let pick = |f: fn(&LiveFile) -> &Option<String>| f(&prof).clone().or_else(|| f(&base).clone());
    let (base_url, base_url_from) = match (&prof.base_url, &base.base_url) {
        (Some(u), _) => (u.clone(), format!("profiles.{}.base_url", name.unwrap_or_default())),
        (None, Some(u)) => (u.clone(), "target.base_url".into()),
        (None, None) => match std::env::var(BASE_URL_ENV).ok().filter(|u| !u.is_empty()) {
            Some(u) => {
                ok &= p.check(url_problem(&u).is_none(), "target", || {
                    format!("${BASE_URL_ENV} (used as base_url): {}", url_problem(&u).unwrap_or_default())
                });
                (u, format!("${BASE_URL_ENV}"))
            }
            None => (DEFAULT_BASE_URL.into(), "default".into()),
        },
    };
    let mut headers: BTreeMap<String, (String, String)> = BTreeMap::new();
    for h in [&base.headers, &prof.headers].into_iter().flatten() {
        for (k, v) in h {
            headers.insert(k.to_ascii_lowercase(), (k.clone(), v.clone()));
        }
    }
    ok.then(|| {
        Target::OpenAi(Box::new(Live {
            base_url: base_url.trim_end_matches('/').to_owned(),
            base_url_from,
            api_key_env: pick(|l| &l.api_key_env).unwrap_or_else(|| DEFAULT_API_KEY_ENV.into()),
            organization: pick(|l| &l.organization),
            project: pick(|l| &l.project),
            headers: headers.into_values().collect(),
            ca_file: pick(|l| &l.ca_file).map(|f| chosen.dir.join(f)),
            profile: name.map(str::to_owned),
        }))
    })
}

/// Checks one `[target]` or profile; true when all is well.
fn check_live(l: &LiveFile, at: &KeyPath, dir: &Path, p: &mut Problems) -> bool {
    let key = |k: &str| at.clone().key(k);
    let mut ok = true;
    if let Some(u) = &l.base_url {
        ok &= p.check(url_problem(u).is_none(), key("base_url"), || url_problem(u).unwrap_or_default());
    }
    if let Some(v) = &l.api_key_env {
        // A value that is not a variable name is probably a pasted key: say
        // so without repeating it.
        // "" says the target needs no key (a local server).
        ok &= p.check(v.is_empty() || is_env_name(v), key("api_key_env"), || {
            "must be the NAME of an environment variable holding the key (A-Z, 0-9, _), not the key itself"
                .into()
        });
    }
    for (k, v) in [("organization", &l.organization), ("project", &l.project)] {
        if let Some(v) = v {
            ok &= p.check(!looks_like_key(v), key(k), || {
                "looks like an API key: keys come only from the environment (api_key_env)".into()
            });
            ok &= p.check(!v.trim().is_empty() && HeaderValue::from_str(v).is_ok(), key(k), || {
                format!("must be a non-empty header value (printable ASCII), got {v:?}")
            });
        }
    }
    for (name, value) in l.headers.iter().flatten() {
        let at = key("headers").key(name);
        let lower = name.to_ascii_lowercase();
        ok &= p.check(HeaderName::from_bytes(name.as_bytes()).is_ok(), at.clone(), || {
            format!("not a valid HTTP header name: {name:?}")
        });
        ok &= p.check(!CREDENTIAL_HEADERS.contains(&lower.as_str()), at.clone(), || {
            format!(
                "{name:?} would carry a key in the scenario file: keys come only from the environment; \
                 name the variable with api_key_env"
            )
        });
        ok &= p.check(!OWN_HEADERS.contains(&lower.as_str()), at.clone(), || {
            format!("{name:?} is set by llmload (use organization / project for the OpenAI headers)")
        });
        // The value is not echoed: it may be a key.
        ok &= p.check(!looks_like_key(value), at.clone(), || {
            "the value looks like an API key or token: keys come only from the environment (api_key_env)"
                .into()
        });
        ok &= p.check(HeaderValue::from_str(value).is_ok(), at.clone(), || {
            "the value is not a valid header value (printable ASCII, no line breaks)".into()
        });
    }
    if let Some(f) = &l.ca_file {
        let path = dir.join(f);
        let problem = match super::limits::read_text(&path, super::limits::CA_BYTES) {
            Err(e) => Some(e),
            Ok(pem) => match reqwest::Certificate::from_pem_bundle(pem.as_bytes()) {
                Ok(certs) if !certs.is_empty() => None,
                Ok(_) => Some(format!("no PEM certificate in {f:?} ({})", path.display())),
                Err(e) => Some(format!("not a PEM certificate file {f:?} ({}): {e}", path.display())),
            },
        };
        ok &= p.check(problem.is_none(), key("ca_file"), || problem.unwrap_or_default());
    }
    ok
}

fn url_problem(u: &str) -> Option<String> {
    match reqwest::Url::parse(u) {
        // Credentials in a URL end up in logs, results and reports, and the
        // client would send them as Basic auth in place of the key: refused,
        // and never echoed.
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            let mut shown = url.clone();
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            Some(format!(
                "must not carry a user name or password (user:password@): the key comes from the \
                 environment (api_key_env); got {:?} with credentials, not shown",
                shown.as_str()
            ))
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") => None,
        Ok(_) => Some(format!("must be http:// or https://, got {u:?}")),
        // A string that is no URL may still hold a password: not echoed.
        Err(e) if u.contains('@') => Some(format!("not a URL ({e}); not shown, since it holds an '@'")),
        Err(e) => Some(format!("not a URL ({e}): {u:?}")),
    }
}

pub(super) fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn looks_like_key(v: &str) -> bool {
    let v = v.trim().to_ascii_lowercase();
    KEY_PREFIXES.iter().any(|p| v.starts_with(p))
}
