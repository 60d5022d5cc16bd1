//! What a run frees goes back to the system before its report is drawn
//! (`alloc::release_freed`), whichever thread freed it. The process's
//! resident memory is the measure, and the other tests of this binary would
//! move it: the test runs itself again, alone, in a child process.

use std::process::Command;

const MB: u64 = 1 << 20;
const CHILD: &str = "LLMLOAD_TEST_ALLOC_CHILD";

/// Anonymous resident memory of this process, in bytes (Linux).
fn resident_anon() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("RssAnon:"))?;
    kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|kb| kb << 10)
}

#[test]
fn pages_an_idle_thread_freed_are_returned() {
    if std::env::var_os(CHILD).is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "alloc::pages_an_idle_thread_freed_are_returned",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
        return;
    }
    let Some(baseline) = resident_anon() else { return };
    // A thread that stays alive and idle, as a lane does after its step,
    // having touched and freed 64 MB.
    let (freed, done) = std::sync::mpsc::channel();
    let (hold, idle) = std::sync::mpsc::channel::<()>();
    let lane = std::thread::spawn(move || {
        let blocks: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i | 1; MB as usize]).collect();
        assert!(blocks.iter().all(|b| b[b.len() - 1] != 0));
        drop(blocks);
        freed.send(()).unwrap();
        let _ = idle.recv();
    });
    done.recv().unwrap();
    let before = resident_anon().unwrap();
    llmload::alloc::release_freed();
    let after = resident_anon().unwrap();
    // Without the release, `after` is `before`: ~40 MB above the baseline.
    assert!(
        after <= baseline + 8 * MB,
        "resident memory was {} MB, {} MB with the idle thread's 64 MB freed, and {} MB after the release: \
         the freed pages were kept",
        baseline / MB,
        before / MB,
        after / MB
    );
    drop(hold);
    lane.join().unwrap();
}
