//! The `llmload-mock` binary: it prints where it listens, serves the built-in or a given
//! profile, enforces `--api-key`, and rejects bad arguments and bad profiles with exit
//! code 2 and a message naming the file, line and key.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
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

/// Starts the binary and returns it with the base URL from its first line.
fn start(args: &[&str]) -> (Running, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .expect("spawn");
    let stdout = child.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let base =
        line.trim_end().strip_prefix("llmload-mock listening on ").expect("the listening line").to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v1"), "{base}");
    (child, base)
}

fn get(url: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let mut request = client.get(url);
        if let Some(k) = key {
            request = request.bearer_auth(k);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    })
}

/// A file in a directory of this test's own, removed by the test.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llmload-mock-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn serves_the_builtin_profile_by_default() {
    let (_child, base) = start(&["--port", "0", "--seed", "3"]);
    let (status, models) = get(&format!("{base}/models"), None);
    assert_eq!(status, 200);
    let ids: Vec<&str> =
        models["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["sim-large", "sim-small"]);
    let health = base.trim_end_matches("/v1").to_owned() + "/health";
    assert_eq!(get(&health, None).0, 200);
}

#[test]
fn serves_a_profile_and_enforces_api_keys() {
    let profile = temp_file("ok.toml", "ttft = \"5ms\"\nitl = \"1ms\"\napi_keys = [\"sk-file\"]\n");
    let path = profile.to_str().expect("utf-8 path");
    let (_child, base) = start(&["--config", path, "--api-key", "sk-flag"]);
    let models = format!("{base}/models");
    assert_eq!(get(&models, None).0, 401);
    assert_eq!(get(&models, Some("sk-other")).0, 401);
    let (status, list) = get(&models, Some("sk-flag"));
    // No [models] table: any model name is served; the list shows the default one.
    assert_eq!((status, &list["data"][0]["id"]), (200, &serde_json::json!("sim-default")));
    assert_eq!(get(&models, Some("sk-file")).0, 200);
    let _ = std::fs::remove_file(profile);
}

#[test]
fn bad_arguments_exit_2() {
    let cases: [&[&str]; 4] = [&["--port", "70000"], &["--bogus"], &["--seed", "-1"], &["--config"]];
    for args in cases {
        let out = Command::new(BIN).args(args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn bad_profiles_exit_2_naming_file_line_and_key() {
    let cases = [
        (
            "value.toml",
            "ttft = \"5ms\"\n\n[models.big]\nmax_sequences = 0\n",
            ":4: models.big.max_sequences: ",
        ),
        ("shape.toml", "ttft = \"5ms\"\nitl = 20\n", ":2: "),
        ("unknown.toml", "ttft = \"5ms\"\n[faults]\nrest = 0.1\n", ":3: "),
    ];
    for (name, text, want) in cases {
        let file = temp_file(name, text);
        let out = Command::new(BIN).arg("--config").arg(&file).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name} printed to stdout");
        assert!(stderr.contains(&format!("{}{want}", file.display())), "{name}: {stderr}");
        let _ = std::fs::remove_file(file);
    }
    let out = Command::new(BIN).args(["--config", "/nonexistent/profile.toml"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/profile.toml"));
}

/// `--lateness` counts every token event sent and prints its quantiles when the
/// server is stopped; SIGTERM (what `kill` and container runtimes send) stops it
/// cleanly, exit 0.
#[cfg(unix)]
#[test]
fn lateness_is_printed_when_stopped_by_sigterm() {
    use std::io::Read;
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--lateness"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Running)
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    let base =
        line.trim_end().strip_prefix("llmload-mock listening on ").expect("the listening line").to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // The truth: token events as the client received them (the role-only first
    // chunk, the finish chunk and `[DONE]` carry no token).
    let tokens: usize = rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let mut n = 0;
        for max_tokens in [7, 3] {
            let body = serde_json::json!({
                "model": "sim-small", "max_tokens": max_tokens, "stream": true,
                "messages": [{"role": "user", "content": "hi"}],
            });
            let text = client
                .post(format!("{base}/chat/completions"))
                .json(&body)
                .send()
                .await
                .expect("send")
                .text()
                .await
                .expect("body");
            n += text.matches("\"delta\":{\"content\":").count();
        }
        n
    });
    assert!(tokens > 2, "some tokens were streamed: {tokens}");
    let term = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().expect("kill");
    assert!(term.success());
    let status = child.0.wait().expect("wait");
    let mut stderr = String::new();
    child.0.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("simulator lateness ({tokens} token events): p50 ")),
        "{tokens} tokens streamed: {stderr}"
    );
}
