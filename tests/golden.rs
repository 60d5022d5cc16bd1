//! Golden files of the terminal table, summary.md and summary.csv, rendered
//! from the summary of tests/fixtures/results-v0 (computed again from its
//! metrics.json, so the figures are fixed). A change in a rendering shows
//! as a diff; `UPDATE_GOLDEN=1 cargo test golden` rewrites the files after a
//! deliberate change.

use std::path::Path;

use llmload::report::{Csv, Format, Markdown, Table};
use llmload::results::ResultsDir;

fn check(name: &str, rendered: &str) {
    let path = Path::new("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        rendered == want,
        "{name} differs from {}:\n--- rendered\n{rendered}\n--- golden\n{want}",
        path.display()
    );
}

fn summary() -> llmload::metrics::Summary {
    let dir = ResultsDir::open(Path::new("tests/fixtures/results-v0"), "results directory").unwrap();
    dir.stored_run().unwrap().summary()
}

#[test]
fn the_terminal_table_is_as_golden() {
    check("table.txt", &Table { width: 100 }.render(&summary()));
}

#[test]
fn summary_md_is_as_golden() {
    check("summary.md", &Markdown.render(&summary()));
}

#[test]
fn summary_csv_is_as_golden() {
    check("summary.csv", &Csv.render(&summary()));
}
