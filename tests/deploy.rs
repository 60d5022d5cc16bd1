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
