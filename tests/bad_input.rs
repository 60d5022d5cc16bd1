//! No input reaches a panic: the example scenarios, mutated at random (keys
//! removed, added, misspelt; values of every type and size; text cut short),
//! are loaded, prepared and planned as `validate` and `run --dry-run` do.
//! Each is either accepted or refused with located problems; a sample also
//! goes through the binary, whose exit code must be 0 or 2.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use toml::{Table, Value};

use llmload::commands::run::Prepared;
use llmload::scenario::{Plan, Scenario};

use crate::util::llmload;

/// Cases per example scenario: bounded, so that CI stays fast.
const CASES_PER_FILE: usize = 100;

/// Every key path of the document: (path of keys and indices, is a table).
fn paths(v: &Value, at: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Table(t) => {
            for (k, v) in t {
                let mut p = at.clone();
                p.push(Step::Key(k.clone()));
                out.push(p.clone());
                paths(v, p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate().take(4) {
                let mut p = at.clone();
                p.push(Step::Index(i));
                paths(v, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn at_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut v = v;
    for s in path {
        v = match s {
            Step::Key(k) => v.as_table_mut()?.get_mut(k)?,
            Step::Index(i) => v.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(v)
}

const KEYS: &[&str] = &[
    "name",
    "seed",
    "concurrency",
    "concurency",
    "rate",
    "duration",
    "requests",
    "warmup",
    "timeout",
    "think_time",
    "ramp_up",
    "max_in_flight",
    "arrival",
    "model",
    "max_tokens",
    "n",
    "best_of",
    "stop",
    "stream",
    "include_usage",
    "prompt_tokens",
    "prompt",
    "prompts_file",
    "batch",
    "endpoint",
    "weight",
    "temperature",
    "base_url",
    "api_key_env",
    "tokenizer",
    "max_usd",
    "ttft.p99",
    "error_rate",
    "kind",
    "itl",
    "ttft",
    "context_window",
    "stages",
    "variant",
    "extra_body",
    "retries",
    "retry_on",
    "x",
];

fn random_value(rng: &mut Xoshiro256PlusPlus) -> Value {
    let s = |t: &str| Value::String(t.to_owned());
    match rng.random_range(0..24) {
        0 => s(""),
        1 => Value::String("x".repeat(70_000)),
        2 => s("é😀\u{0}\u{202e}"),
        3 => s("500000000000years"),
        4 => s("1e-300"),
        5 => s("-1s"),
        6 => s("0s"),
        7 => s("http://user:pw@127.0.0.1:9/v1"),
        8 => s("../../../../etc/passwd"),
        9 => Value::Integer(0),
        10 => Value::Integer(-1),
        11 => Value::Integer(i64::MAX),
        12 => Value::Integer(i64::MIN),
        13 => Value::Integer(4_294_967_296),
        14 => Value::Float(1e-300),
        15 => Value::Float(1e300),
        16 => Value::Float(f64::NAN),
        17 => Value::Float(f64::INFINITY),
        18 => Value::Float(-0.5),
        19 => Value::Boolean(rng.random()),
        20 => Value::Array(Vec::new()),
        21 => Value::Array((0..1000).map(Value::Integer).collect()),
        22 => Value::Table(Table::new()),
        _ => s("30s"),
    }
}

/// Applies one to three random changes to the document.
fn mutate(doc: &mut Value, rng: &mut Xoshiro256PlusPlus) {
    for _ in 0..rng.random_range(1..=3) {
        let mut all = Vec::new();
        paths(doc, Vec::new(), &mut all);
        if all.is_empty() {
            return;
        }
        let path = all[rng.random_range(0..all.len())].clone();
        match rng.random_range(0..3) {
            0 => {
                if let Some(v) = at_mut(doc, &path) {
                    *v = random_value(rng);
                }
            }
            1 => {
                let (last, parent) = path.split_last().unwrap();
                if let (Step::Key(k), Some(Value::Table(t))) = (last, at_mut(doc, parent)) {
                    t.remove(k);
                }
            }
            _ => {
                let key = KEYS[rng.random_range(0..KEYS.len())].to_owned();
                let value = random_value(rng);
                if let Some(Value::Table(t)) = at_mut(doc, &path[..path.len() - 1]) {
                    t.insert(key, value);
                }
            }
        }
    }
}

/// What `validate` and `run --dry-run` do with a scenario, in-process.
fn load_and_plan(text: &str, path: &Path) -> Result<String, String> {
    let s = Scenario::parse(text, path).map_err(|e| e.to_string())?;
    let plan = Plan::new(&s).render(&s);
    let prepared = Prepared::new(s, None, None).map_err(|e| e.to_string())?;
    Ok(plan + &Plan::new(&prepared.scenario).render(&prepared.scenario))
}

fn cases() -> Vec<(PathBuf, String)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    let mut out = Vec::new();
    for file in crate::util::example_scenarios() {
        let source = std::fs::read_to_string(&file).unwrap();
        let doc: Table = source.parse().unwrap();
        for _ in 0..CASES_PER_FILE {
            let mut v = Value::Table(doc.clone());
            mutate(&mut v, &mut rng);
            let mut text = match &v {
                Value::Table(t) => toml::to_string(t).unwrap_or_default(),
                _ => unreachable!(),
            };
            // Now and then the text itself is cut short mid-way.
            if rng.random_range(0..8) == 0 && !text.is_empty() {
                let mut cut = rng.random_range(0..text.len());
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            out.push((file.clone(), text));
        }
    }
    out
}

#[test]
fn mutated_example_scenarios_are_accepted_or_refused_never_a_panic() {
    let (mut ok, mut refused) = (0, 0);
    for (file, text) in cases() {
        match catch_unwind(AssertUnwindSafe(|| load_and_plan(&text, &file))) {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                // Refused with its problems located in the file.
                assert!(e.contains(&file.display().to_string()) || e.contains("shard"), "{e}");
                refused += 1;
            }
            Err(_) => panic!("panicked on this mutation of {}:\n{text}", file.display()),
        }
    }
    println!("{ok} accepted, {refused} refused");
    assert!(refused > ok / 4, "the mutations reach the checks: {ok} accepted, {refused} refused");
}

#[test]
fn the_binary_exits_0_or_2_on_mutated_scenarios() {
    // A copy of scenarios/, so that relative paths (pricing files) resolve.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("scenarios");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"), &copy);
    for (i, (file, text)) in cases().into_iter().step_by(CASES_PER_FILE / 2).enumerate() {
        let path = copy.join(format!("mutated-{i}-{}", file.file_name().unwrap().to_string_lossy()));
        std::fs::write(&path, &text).unwrap();
        for args in [&["validate"][..], &["run", "--dry-run"][..]] {
            let o = llmload()
                .args(args)
                .arg(&path)
                .env_remove("OPENAI_BASE_URL")
                .current_dir(dir.path())
                .output();
            let o = o.unwrap();
            let code = o.status.code();
            assert!(
                matches!(code, Some(0) | Some(2)),
                "{args:?} exited {code:?} on:\n{text}\nstderr: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A corpus of bad scenarios (tests/data/bad-scenarios), each saying in
/// `# expect:` lines what its report must contain and in `# forbid:` lines
/// what it must never repeat (credentials). Every file exits 2 from
/// `validate`, each problem on a line of its own naming file, line and key.
#[test]
fn each_bad_scenario_of_the_corpus_is_reported_in_plain_words() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus is there");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let o = llmload().arg("validate").arg(&file).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", file.display());
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for line in text.lines() {
            if let Some(want) = line.strip_prefix("# expect: ") {
                assert!(err.contains(want), "{name}: wanted {want:?} in:\n{err}");
            }
            if let Some(never) = line.strip_prefix("# forbid: ") {
                assert!(!err.contains(never), "{name}: {never:?} repeated in:\n{err}");
            }
        }
        // Every problem names the file, and its line when the key is in it.
        for problem in err.trim_start_matches("error: ").lines() {
            assert!(problem.contains(&name), "{name}: {problem}");
        }
    }
}
