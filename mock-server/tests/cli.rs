//! The `llmload-mock` binary: it prints where it listens, serves, and rejects bad
//! arguments the way clap does.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_llmload-mock");

/// Kills the server however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prints_its_address_and_serves() {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--ttft", "5ms", "--itl", "1ms", "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .expect("spawn");
    let stdout = child.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let base = line.trim_end().strip_prefix("llmload-mock listening on ").expect("the listening line");
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v1"), "{base}");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let models: serde_json::Value = rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let response = client.get(format!("{base}/models")).send().await.expect("send");
        response.json().await.expect("json")
    });
    assert_eq!(models["data"][0]["id"], "sim-default");
}

#[test]
fn bad_arguments_exit_2() {
    let cases: [&[&str]; 5] =
        [&["--ttft", "soon"], &["--jitter=-1"], &["--jitter", "NaN"], &["--port", "70000"], &["--bogus"]];
    for args in cases {
        let out = Command::new(BIN).args(args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}
