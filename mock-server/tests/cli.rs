//! The `llmload-mock` binary: it prints where it listens, serves, and rejects bad
//! arguments the way clap does.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_llmload-mock");

#[test]
fn prints_its_address_and_serves() {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--ttft", "5ms", "--itl", "1ms", "--seed", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let served = (|| {
        let base = line
            .trim_end()
            .strip_prefix("llmload-mock listening on ")
            .ok_or_else(|| format!("unexpected line {line:?}"))?;
        let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let client = reqwest::Client::builder().no_proxy().build().map_err(|e| e.to_string())?;
            let models: serde_json::Value = client
                .get(format!("{base}/models"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((base.to_owned(), models))
        })
    })();
    // Kill before asserting, so a failure does not leave the server running.
    let _ = child.kill();
    let _ = child.wait();
    let (base, models) = served.expect("served");
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v1"), "{base}");
    assert_eq!(models["data"][0]["id"], "sim-default");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [&["--ttft", "soon"][..], &["--jitter", "-1"], &["--port", "70000"], &["--bogus"]] {
        let out = Command::new(BIN).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
