//! Where results go: an earlier run's directory is never silently
//! overwritten, and a disk that fills mid-run loses no figure from view.

use std::path::Path;
use std::process::Command;

use crate::util::{llmload, scenario_file};

const SMALL: &str = r#"
name = "outputs"
[load]
concurrency = 8
requests = REQUESTS
[simulator]
ttft = "1ms"
itl = "0ms"
[[variant]]
name = "only"
endpoint = "chat"
model = "m"
max_tokens = 4
prompt_tokens = 8
"#;

fn text(o: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_non_empty_out_is_refused_unless_forced_and_forcing_removes_the_old_results() {
    let (dir, path) = scenario_file(&SMALL.replace("REQUESTS", "20"));
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        llmload().args(["run", "-q", "--out"]).arg(&out).args(extra).arg(&path).output().unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(0));
    // A stale chart of an earlier run, which this run would not write.
    std::fs::write(out.join("charts").join("stale.png"), b"old").unwrap();

    let o = run(&[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("--out {}: is not empty", out.display())) && err.contains("--force"),
        "{err}"
    );

    let o = run(&["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert!(!out.join("charts").join("stale.png").exists(), "the old results were removed first");
    let rows = csv::Reader::from_path(out.join("requests.csv")).unwrap().records().count();
    assert_eq!(rows, 20, "one run's rows, not two");

    // Files llmload did not write are never removed.
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let o = run(&["--force"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("holds files llmload did not write (notes.txt)"), "{err}");
    assert!(out.join("notes.txt").exists());
}

/// Runs `script` as root of a mount namespace of its own (`unshare`), where
/// a tmpfs can be mounted without touching the machine's; `None` where the
/// platform allows no such namespace.
fn in_own_mounts(script: &str) -> Option<std::process::Output> {
    let probe = Command::new("unshare").args(["-rm", "true"]).output().ok()?;
    probe
        .status
        .success()
        .then(|| Command::new("unshare").args(["-rm", "sh", "-c", script]).output().unwrap())
}

#[test]
fn a_disk_that_fills_mid_run_keeps_the_table_names_the_file_and_leaves_whole_rows() {
    let (dir, path) = scenario_file(&SMALL.replace("REQUESTS", "3000"));
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let out = disk.join("out");
    let bin = env!("CARGO_BIN_EXE_llmload");
    // 200 KiB: room for ~1,300 of the 3,000 rows.
    let script = format!(
        "mount -t tmpfs -o size=200k tmpfs {disk} && {bin} run -q --out {out} {path}; echo \"exit=$?\" >&2; \
         ls -a {out}; echo ---; tail -c 300 {out}/requests.csv",
        disk = disk.display(),
        out = out.display(),
        path = path.display(),
    );
    let Some(o) = in_own_mounts(&script) else {
        println!("skipped: this platform allows no mount namespace (unshare -rm)");
        return;
    };
    let (stdout, err) = text(&o);
    assert!(err.contains("exit=1"), "exit 1: {err}");
    // The figures were measured and printed although they could not all be written.
    assert!(stdout.contains("ttft p50") && stdout.contains("only"), "the table is printed: {stdout}");
    assert!(
        err.contains("requests.csv") && err.contains("No space left on device") && err.contains("incomplete"),
        "the file and the cause are named: {err}"
    );
    let (listing, tail) = stdout.rsplit_once("---").unwrap();
    assert!(!listing.contains(".tmp"), "no temporary file is left: {listing}");
    // The file ends with a whole row.
    assert!(tail.ends_with('\n'), "no half-written row: {tail:?}");
    let last = tail.trim_end().rsplit('\n').next().unwrap();
    assert_eq!(last.split(',').count(), llmload::results::REQUEST_COLUMNS.len(), "a whole row: {last}");
    let _ = Path::new(&out);
}
