//! deploy/k8s: no cluster runs here, so the manifests are parsed and the
//! fields that make a sharded run work are checked.

use std::path::Path;

use serde_json::Value;

fn manifest(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|s| s.as_str().unwrap()).collect()
}

/// The single container of a Job's pod template.
fn container(job: &Value) -> &Value {
    let containers = job["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// Volume name → claim or config map it comes from, and mount path → volume name.
fn mounts(job: &Value) -> Vec<(String, String, String)> {
    let volumes = job["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
    let source = |name: &str| {
        let v = volumes.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("volume {name} defined"));
        let claim = &v["persistentVolumeClaim"]["claimName"];
        let map = &v["configMap"]["name"];
        claim.as_str().or(map.as_str()).unwrap_or_else(|| panic!("volume {name}: {v}")).to_owned()
    };
    container(job)["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap();
            (m["mountPath"].as_str().unwrap().to_owned(), name.to_owned(), source(name))
        })
        .collect()
}

#[test]
fn shard_job_is_an_indexed_job_running_one_shard_per_index() {
    let job = manifest("job-shards.yaml");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert!(n >= 2);
    assert_eq!(spec["parallelism"].as_u64(), Some(n), "all shards run at once");
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");

    let c = container(&job);
    let args = strings(&c["args"]);
    assert_eq!(args[0], "run");
    let after = |flag: &str| {
        let i = args.iter().position(|a| *a == flag).unwrap_or_else(|| panic!("{flag} in {args:?}"));
        args[i + 1]
    };
    assert_eq!(after("--shard"), format!("$(JOB_COMPLETION_INDEX)/{n}"), "N matches completions");
    assert_eq!(after("--start-at"), "$(START_AT)");
    assert_eq!(after("--out"), "/results/shard-$(JOB_COMPLETION_INDEX)");
    assert_eq!(*args.last().unwrap(), "/scenario/scenario.toml");
    // $(VAR) in args expands only from the container's env.
    let env = c["env"].as_array().unwrap();
    let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("env {name}"));
    assert_eq!(
        var("JOB_COMPLETION_INDEX")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    assert_eq!(var("START_AT")["valueFrom"]["configMapKeyRef"]["name"], "llmload-scenario");
    assert_eq!(var("START_AT")["valueFrom"]["configMapKeyRef"]["key"], "start_at");
    assert!(var("OPENAI_API_KEY")["value"].is_null(), "the key comes from a Secret, never inline");

    let m = mounts(&job);
    assert!(m.contains(&("/scenario".into(), "scenario".into(), "llmload-scenario".into())), "{m:?}");
    assert!(m.contains(&("/results".into(), "results".into(), "llmload-results".into())), "{m:?}");
}

#[test]
fn merge_job_reads_every_shard_from_the_same_volume() {
    let job = manifest("job-merge.yaml");
    assert_eq!(job["kind"], "Job");
    assert!(job["spec"]["completionMode"].is_null(), "one merge, not indexed");
    let c = container(&job);
    assert_eq!(strings(&c["command"]), ["sh", "-c", "llmload report /results/shard-* --out /results/merged"]);
    assert_eq!(mounts(&job), [("/results".into(), "results".into(), "llmload-results".into())]);
    let shards = manifest("job-shards.yaml");
    assert_eq!(c["image"], container(&shards)["image"]);
}

#[test]
fn volume_and_config_map_are_what_the_jobs_mount() {
    let pvc = manifest("pvc.yaml");
    assert_eq!(pvc["kind"], "PersistentVolumeClaim");
    assert_eq!(pvc["metadata"]["name"], "llmload-results");
    assert_eq!(strings(&pvc["spec"]["accessModes"]), ["ReadWriteMany"], "shards on many nodes write it");

    let cm = manifest("configmap.yaml");
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "llmload-scenario");
    let start_at = cm["data"]["start_at"].as_str().unwrap();
    llmload::load::parse_start_at(start_at).unwrap_or_else(|e| panic!("start_at: {e}"));
    // The scenario the shards run is a valid one, and splits over the Job's N.
    let toml = cm["data"]["scenario.toml"].as_str().unwrap();
    let mut s = llmload::scenario::Scenario::parse(toml, Path::new("scenario.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let n = manifest("job-shards.yaml")["spec"]["completions"].as_u64().unwrap() as u32;
    llmload::load::Shard { index: n - 1, count: n }.apply(&mut s).unwrap();
}

/// `$(VAR)` expanded as Kubernetes does in a container's args.
fn expand(arg: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(arg.to_owned(), |a, (k, v)| a.replace(&format!("$({k})"), v))
}

#[test]
fn the_shipped_jobs_run_as_written_against_the_simulator_and_merge() {
    let _heavy = crate::util::CPU_HEAVY.blocking_read();
    // The cluster's volumes as directories; the server as `llmload mock`.
    let tmp = tempfile::tempdir().unwrap();
    let (scenario_dir, results_dir) = (tmp.path().join("scenario"), tmp.path().join("results"));
    std::fs::create_dir_all(&scenario_dir).unwrap();
    // Like the vLLM server of the manifests: serves the model it is asked for.
    let profile = tmp.path().join("server.toml");
    std::fs::write(&profile, "ttft = \"20ms\"\nitl = \"2ms\"\nserve_any_model = true\n").unwrap();
    let (_mock, url) = crate::util::start_mock(&["--config", profile.to_str().unwrap()]);
    // The ConfigMap's scenario as shipped, but for where the server is and a
    // load a test can afford (the shipped one is 400 requests/s for 5 min).
    let cm = manifest("configmap.yaml");
    let toml = cm["data"]["scenario.toml"].as_str().unwrap();
    let shipped_url = "http://vllm.default.svc.cluster.local:8000/v1";
    assert!(
        toml.contains(shipped_url) && toml.contains("rate = 400.0") && toml.contains("duration = \"5m\"")
    );
    let toml = toml
        .replace(shipped_url, &url)
        .replace("rate = 400.0", "rate = 40.0")
        .replace("duration = \"5m\"", "duration = \"2s\"")
        .replace("warmup = \"30s\"", "warmup = \"500ms\"");
    std::fs::write(scenario_dir.join("scenario.toml"), toml).unwrap();

    // Every index of the Indexed Job, at once, with the container's args.
    let job = manifest("job-shards.yaml");
    let n = job["spec"]["completions"].as_u64().unwrap();
    let args = strings(&container(&job)["args"]);
    let start_at =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now() + std::time::Duration::from_secs(3))
            .to_string();
    let shards: Vec<_> = (0..n)
        .map(|k| {
            let index = k.to_string();
            let vars = [("JOB_COMPLETION_INDEX", index.as_str()), ("START_AT", start_at.as_str())];
            let argv: Vec<String> = args
                .iter()
                .map(|a| expand(a, &vars))
                .map(|a| mount(&a, "/results", &results_dir))
                .map(|a| mount(&a, "/scenario", &scenario_dir))
                .collect();
            crate::util::llmload().args(&argv).env("OPENAI_API_KEY", "sk-test").output_in_background()
        })
        .collect();
    for (k, shard) in shards.into_iter().enumerate() {
        let o = shard.join().unwrap();
        let errors =
            std::fs::read_to_string(results_dir.join(format!("shard-{k}/summary.json"))).unwrap_or_default();
        assert_eq!(
            o.status.code(),
            Some(0),
            "shard {k}: {}{errors:.3000}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // Then the merge Job's command, through a shell for its glob.
    let merge = manifest("job-merge.yaml");
    let command = strings(&container(&merge)["command"]);
    assert_eq!(command[..2], ["sh", "-c"]);
    let script = command[2]
        .replace("llmload ", &format!("{} ", env!("CARGO_BIN_EXE_llmload")))
        .replace("/results", &results_dir.display().to_string());
    let o = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = crate::util::read_json(&results_dir.join("merged/summary.json"));
    let info = crate::util::read_json(&results_dir.join("merged/run.json"));
    assert_eq!(info["shards"].as_array().unwrap().len() as u64, n);
    // 40 requests/s for 2 s, Poisson arrivals: 80 expected, every one sent.
    let sent = summary["total"]["requests"]["sent"].as_u64().unwrap();
    assert!((45..=115).contains(&sent), "{sent} requests for a plan of 80");
    assert_eq!(summary["total"]["requests"]["not_sent"], 0);
    assert_eq!(summary["total"]["requests"]["errors"], 0);
}

/// A path under a volume's mount point, moved under `dir`.
fn mount(arg: &str, at: &str, dir: &Path) -> String {
    match arg.strip_prefix(at).filter(|rest| rest.starts_with('/')) {
        Some(rest) => format!("{}{rest}", dir.display()),
        None => arg.to_owned(),
    }
}

/// Runs a command on a thread, so that several run at once.
trait Background {
    fn output_in_background(self) -> std::thread::JoinHandle<std::process::Output>;
}

impl Background for &mut std::process::Command {
    fn output_in_background(self) -> std::thread::JoinHandle<std::process::Output> {
        let child =
            self.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        std::thread::spawn(move || child.wait_with_output().unwrap())
    }
}
