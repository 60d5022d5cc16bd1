//! README's example output is what llmload prints. The quickstart's table
//! is rendered, as `run` prints it on an 80-column terminal, from the
//! results of a real quickstart run kept in tests/fixtures/readme/ and
//! compared with README's block; `scripts/readme-examples.sh` makes a new
//! run and rewrites the block (`UPDATE_README=1` rewrites it from the kept
//! run).

use std::path::Path;

use llmload::report::{Format, Table};
use llmload::results::ResultsDir;

/// Marks the code block that follows it in README.md.
const MARKER: &str = "<!-- example output: scripts/readme-examples.sh -->";

/// What `llmload run scenarios/quickstart.toml` printed for the kept run.
fn quickstart_output() -> String {
    let root = Path::new("tests/fixtures/readme/quickstart");
    let run = std::fs::read_dir(root).unwrap().next().expect("a kept quickstart run").unwrap().path();
    let stamp = run.file_name().unwrap().to_string_lossy().into_owned();
    let summary = ResultsDir::open(&run, "results directory").unwrap().stored_run().unwrap().summary();
    format!("{}\nresults: reports/quickstart/{stamp}\n", Table { width: 80 }.render(&summary))
}

#[test]
fn the_readme_shows_what_the_quickstart_prints() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let at = readme.find(MARKER).expect("README marks its example output");
    let open = at + readme[at..].find("```\n").expect("a code block after the marker") + 4;
    let close = open + readme[open..].find("```\n").expect("the block's end");
    let want = quickstart_output();
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{want}{}", &readme[..open], &readme[close..]);
        std::fs::write("README.md", updated).unwrap();
        return;
    }
    let shown = &readme[open..close];
    assert!(
        shown == want,
        "README's example differs from what llmload prints (scripts/readme-examples.sh):\n--- README\n{shown}\n--- printed\n{want}"
    );
    for line in want.lines() {
        assert!(line.chars().count() <= 80, "fits 80 columns: {line}");
    }
}
