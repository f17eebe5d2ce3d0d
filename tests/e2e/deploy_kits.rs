//! The deployment kits in `deploy/` (image, compose, Kubernetes, Grafana), checked as far
//! as this machine allows: Docker and Kubernetes cannot run here, so nothing is applied or
//! started. What is checked instead (docs/deploy.md, "What was verified here, and how"):
//! every file parses; every `PLUGBOARD_*` variable a kit sets is a setting the config
//! loader knows, and the kit's values load; probes, health checks and the balancer's check
//! name routes the running server answers; the pieces of each kit refer to each other
//! consistently (ports, names, secret keys, selectors); the dashboard queries only the
//! metrics of the agreed list, and those already registered are on `/metrics`; and the
//! image's build steps run as a plain script against the binary cargo built for the tests.

use crate::binary::{plugboard, start_command};
use crate::helpers::*;
use plugboard::config::{Config, StoreKind, unknown_env_vars};
use plugboard_core::Platform;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_plugboard");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every document of a YAML file, merge keys (`<<`) applied, as JSON values.
fn yaml_docs(rel: &str) -> Vec<Value> {
    use serde::Deserialize;
    let text = read(rel);
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let mut v = serde_norway::Value::deserialize(doc)
            .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"));
        v.apply_merge()
            .unwrap_or_else(|e| panic!("{rel}: bad merge key: {e}"));
        docs.push(serde_json::to_value(v).unwrap_or_else(|e| panic!("{rel}: {e}")));
    }
    docs
}

fn yaml(rel: &str) -> Value {
    let mut docs = yaml_docs(rel);
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.remove(0)
}

/// Files under `deploy/` (relative to the repository) ending in one of `exts`.
fn deploy_files(exts: &[&str]) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut all = Vec::new();
    walk(&repo().join("deploy"), &mut all);
    let mut out: Vec<String> = all
        .iter()
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        })
        .map(|p| {
            p.strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.sort();
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn port_of(listen: &str) -> u16 {
    listen.rsplit(':').next().unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// Settings

/// A value the config loader accepts in place of a kit's placeholder: the kits ship
/// `CHANGE_ME` markers (and empty required values) that the operator replaces.
fn usable(name: &str, value: &str) -> String {
    let secret_key = name.trim_end_matches("_FILE") == "PLUGBOARD_ENCRYPTION_KEY";
    if secret_key && (value.is_empty() || value.contains("CHANGE_ME")) {
        "ab".repeat(32)
    } else {
        value.replace("CHANGE_ME", "placeholder")
    }
}

/// Loads `vars` as the server would, after checking that each name is a setting. `files`
/// are the contents of the `_FILE` settings (the secrets a kit mounts), by path.
fn load_kit_settings(
    source: &str,
    vars: &BTreeMap<String, String>,
    files: &BTreeMap<String, String>,
) -> Config {
    let plugboard_vars: Vec<(String, String)> = vars
        .iter()
        .filter(|(k, _)| k.starts_with("PLUGBOARD_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(
        !plugboard_vars.is_empty(),
        "{source}: sets no PLUGBOARD_* variable"
    );
    let unknown = unknown_env_vars(plugboard_vars.clone().into_iter());
    assert!(
        unknown.is_empty(),
        "{source} sets variables that are no setting of crates/plugboard/src/config.rs: {unknown:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut env = Vec::new();
    for (k, v) in plugboard_vars {
        if k.ends_with("_FILE") {
            let content = files
                .get(&v)
                .unwrap_or_else(|| panic!("{source}: {k}={v} names no file the kit provides"));
            let path = dir.path().join(format!("f{}", env.len()));
            std::fs::write(&path, usable(&k, content)).unwrap();
            env.push((k, path.to_string_lossy().into_owned()));
        } else {
            let v = usable(&k, &v);
            env.push((k, v));
        }
    }
    Config::load_from(None, env.into_iter())
        .unwrap_or_else(|e| panic!("{source}: the server would refuse these settings: {e}"))
}

/// `NAME=value` lines, comments and blank lines skipped.
fn env_file(rel: &str) -> BTreeMap<String, String> {
    read(rel)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{rel}: {l:?} is not NAME=value"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

/// Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}` and
/// `${VAR?message}`, from `env`; records each name used.
fn interpolate(text: &str, env: &BTreeMap<String, String>, used: &mut BTreeSet<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').expect("closing brace") + i;
        let inner = &rest[i + 2..end];
        let split = inner
            .find([':', '-', '?'])
            .map(|j| (&inner[..j], &inner[j..]))
            .unwrap_or((inner, ""));
        let (name, op) = split;
        used.insert(name.to_owned());
        let value = env.get(name).cloned().unwrap_or_default();
        let resolved = if let Some(default) = op.strip_prefix(":-") {
            if value.is_empty() {
                default.to_owned()
            } else {
                value
            }
        } else if let Some(default) = op.strip_prefix('-') {
            env.get(name).cloned().unwrap_or_else(|| default.to_owned())
        } else if op.starts_with(":?") || op.starts_with('?') {
            // Required: compose refuses to start without it; the operator fills it in.
            value
        } else {
            assert!(op.is_empty(), "unsupported interpolation ${{{inner}}}");
            value
        };
        out.push_str(&resolved);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A service's `environment`, as a map or a list of `NAME=value`.
fn service_env(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), s(v))).collect(),
        Value::Array(list) => list
            .iter()
            .map(|e| {
                let e = s(e);
                let (k, v) = e.split_once('=').unwrap_or((&e, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Value::Null => BTreeMap::new(),
        other => panic!("environment: {other}"),
    }
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("deploy/Dockerfile").lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (ins, args) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((ins.to_ascii_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

fn docker_instructions(name: &str) -> Vec<String> {
    dockerfile()
        .into_iter()
        .filter(|(i, _)| i == name)
        .map(|(_, a)| a)
        .collect()
}

fn image_env() -> BTreeMap<String, String> {
    docker_instructions("ENV")
        .iter()
        .flat_map(|a| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("ENV NAME=value");
            (k.to_owned(), v.trim_matches('"').to_owned())
        })
        .collect()
}

/// Compose with `.env.example`'s values in place, and the names it interpolates.
fn compose() -> (Value, BTreeSet<String>) {
    let example = env_file("deploy/.env.example");
    let mut used = BTreeSet::new();
    let text = interpolate(&read("deploy/compose.yaml"), &example, &mut used);
    let mut v: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    v.apply_merge().unwrap();
    (serde_json::to_value(v).unwrap(), used)
}

/// Compose services that run Plugboard (built from deploy/Dockerfile).
fn plugboard_services(compose: &Value) -> Vec<(String, Value)> {
    let services: Vec<(String, Value)> = compose["services"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, svc)| svc["build"]["dockerfile"] == "deploy/Dockerfile")
        .map(|(n, svc)| (n.clone(), svc.clone()))
        .collect();
    services
}

/// Kubernetes objects of deploy/kubernetes by kind.
fn kube(kind: &str) -> Value {
    let mut found: Vec<Value> = deploy_files(&["yaml"])
        .iter()
        .filter(|f| f.starts_with("deploy/kubernetes/"))
        .flat_map(|f| yaml_docs(f))
        .filter(|d| d["kind"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} in deploy/kubernetes");
    found.remove(0)
}

#[test]
fn deploy_kit_files_parse() {
    let yamls = deploy_files(&["yaml", "yml"]);
    for f in [
        "deploy/compose.yaml",
        "deploy/kubernetes/kustomization.yaml",
    ] {
        assert!(yamls.contains(&f.to_owned()), "{f} is there");
    }
    for f in &yamls {
        let docs = yaml_docs(f);
        assert!(!docs.is_empty(), "{f} holds a document");
        if f.starts_with("deploy/kubernetes/") {
            for d in &docs {
                assert!(
                    d["apiVersion"].is_string() && d["kind"].is_string(),
                    "{f}: apiVersion and kind"
                );
                if d["kind"] != "Kustomization" {
                    assert!(d["metadata"]["name"].is_string(), "{f}: metadata.name");
                }
            }
        }
    }
    let jsons = deploy_files(&["json"]);
    assert!(jsons.contains(&"deploy/grafana/plugboard.json".to_owned()));
    for f in &jsons {
        serde_json::from_str::<Value>(&read(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    // The kustomization names every manifest beside it, and only files that exist.
    let k = yaml("deploy/kubernetes/kustomization.yaml");
    let listed: BTreeSet<String> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("deploy/kubernetes/{}", s(r)))
        .collect();
    let present: BTreeSet<String> = yamls
        .iter()
        .filter(|f| f.starts_with("deploy/kubernetes/") && !f.ends_with("kustomization.yaml"))
        .cloned()
        .collect();
    assert_eq!(listed, present, "kustomization.yaml resources");
}

#[test]
fn every_plugboard_variable_the_kits_set_is_a_real_setting_and_loads() {
    // The image's defaults alone: the embedded store, listening on every interface.
    let env = image_env();
    let c = load_kit_settings("deploy/Dockerfile ENV", &env, &BTreeMap::new());
    assert_eq!(c.store, StoreKind::Sqlite);
    assert!(!c.sandbox, "the image never serves fakes unless asked");
    assert!(c.listen.ip().is_unspecified());

    // Compose: each Plugboard service, with .env.example's values.
    let example = env_file("deploy/.env.example");
    let unknown = unknown_env_vars(example.clone().into_iter());
    assert!(unknown.is_empty(), ".env.example: {unknown:?}");
    let (compose, used) = compose();
    let defined: BTreeSet<String> = example.keys().cloned().collect();
    assert_eq!(
        used, defined,
        "compose.yaml interpolates exactly the variables .env.example documents"
    );
    let services = plugboard_services(&compose);
    assert!(services.len() >= 2, "two Plugboard replicas in compose");
    let mut keys = BTreeSet::new();
    for (name, svc) in &services {
        let env = service_env(svc);
        let c = load_kit_settings(&format!("compose service {name}"), &env, &BTreeMap::new());
        assert_eq!(c.store, StoreKind::Mongodb, "{name}");
        assert!(!c.sandbox, "{name}");
        keys.insert(c.encryption_key.unwrap().expose().clone());
    }
    assert_eq!(keys.len(), 1, "every replica gets the same encryption key");

    // Kubernetes: the ConfigMap plus the container's env, the secret files from the Secret.
    let config = kube("ConfigMap");
    let secret = kube("Secret");
    let deployment = kube("Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let secret_data = &secret["stringData"];
    let mut vars: BTreeMap<String, String> = config["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), s(v)))
        .collect();
    for e in container["env"].as_array().unwrap() {
        let name = s(&e["name"]);
        let value = if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
            assert_eq!(r["name"], secret["metadata"]["name"], "{name}");
            s(secret_data
                .get(s(&r["key"]))
                .unwrap_or_else(|| panic!("{name}: no key {} in the Secret", r["key"])))
        } else {
            s(&e["value"])
        };
        assert!(vars.insert(name.clone(), value).is_none(), "{name} twice");
    }
    let mounts = container["volumeMounts"].as_array().unwrap();
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let mut files = BTreeMap::new();
    for m in mounts {
        let volume = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
        if volume["secret"]["secretName"] == secret["metadata"]["name"] {
            for (key, value) in secret_data.as_object().unwrap() {
                files.insert(format!("{}/{key}", s(&m["mountPath"])), s(value));
            }
        }
    }
    let c = load_kit_settings(
        "deploy/kubernetes (ConfigMap + Deployment env)",
        &vars,
        &files,
    );
    assert_eq!(c.store, StoreKind::Mongodb);
    assert!(!c.sandbox);
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(
        u64::from(c.listen.port()),
        port,
        "listens on the containerPort"
    );

    // Placeholders fail closed: the Secret's unedited key stops the start, naming it.
    let raw_key = s(&secret_data["encryption-key"]);
    assert!(raw_key.contains("CHANGE_ME"));
    let e = Config::load_from(
        None,
        vec![("PLUGBOARD_ENCRYPTION_KEY".to_owned(), raw_key)].into_iter(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("PLUGBOARD_ENCRYPTION_KEY"), "{e}");
}

#[test]
fn compose_services_fit_together() {
    let (compose, _) = compose();
    let services = compose["services"].as_object().unwrap();
    let plugboards = plugboard_services(&compose);
    // Three replica-set members, an init container that runs rs.initiate once.
    let members: Vec<&String> = services
        .iter()
        .filter(|(_, svc)| {
            svc["command"]
                .as_array()
                .is_some_and(|c| c.iter().any(|a| a == "--replSet"))
        })
        .map(|(n, _)| n)
        .collect();
    assert_eq!(members.len(), 3, "three mongod members: {members:?}");
    let init = &services["mongo-init"];
    assert_eq!(init["restart"], "no", "the init container is one-shot");
    for m in &members {
        assert_eq!(
            init["depends_on"][m.as_str()]["condition"],
            "service_healthy"
        );
    }
    let script = read("deploy/mongo/init-replica-set.js");
    assert!(script.contains("rs.initiate"));
    for m in &members {
        assert!(
            script.contains(&format!("{m}:27017")),
            "{m} in the replica set"
        );
    }
    for (name, svc) in &plugboards {
        let uri = &service_env(svc)["PLUGBOARD_MONGODB_URI"];
        for m in &members {
            assert!(
                uri.contains(&format!("{m}:27017")),
                "{name}: {m} in the URI"
            );
        }
        assert!(uri.contains("replicaSet=rs0") && uri.contains("w=majority"));
        assert_eq!(
            svc["depends_on"]["mongo-init"]["condition"],
            "service_completed_successfully"
        );
        assert_eq!(
            svc["healthcheck"]["test"],
            serde_json::json!(["CMD", "/usr/local/bin/plugboard", "healthcheck"]),
            "{name}"
        );
    }
    // The balancer sends to every Plugboard service, on the port it listens on, and
    // checks a route the server serves.
    let lb = &services["lb"];
    assert!(s(&lb["image"]).starts_with("haproxy:"));
    let cfg = read("deploy/haproxy.cfg");
    let servers: BTreeMap<String, u16> = cfg
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server "))
        .map(|l| {
            let addr = l.split_whitespace().nth(2).unwrap();
            let (host, port) = addr.split_once(':').unwrap();
            (host.to_owned(), port.parse().unwrap())
        })
        .collect();
    let expected: BTreeMap<String, u16> = plugboards
        .iter()
        .map(|(n, svc)| (n.clone(), port_of(&service_env(svc)["PLUGBOARD_LISTEN"])))
        .collect();
    assert_eq!(servers, expected, "haproxy.cfg servers");
    for (name, _) in &plugboards {
        assert_eq!(lb["depends_on"][name]["condition"], "service_healthy");
    }
    assert!(
        lb["volumes"][0]
            .as_str()
            .unwrap()
            .starts_with("./haproxy.cfg:")
    );
    // Networks the services name are declared; the database network is internal.
    let declared = compose["networks"].as_object().unwrap();
    for (name, svc) in services {
        for n in svc["networks"].as_array().into_iter().flatten() {
            assert!(declared.contains_key(&s(n)), "{name}: network {n}");
        }
    }
    for m in &members {
        assert_eq!(
            services[m.as_str()]["networks"],
            serde_json::json!(["back"])
        );
    }
    assert_eq!(declared["back"]["internal"], true);
}

#[test]
fn kubernetes_manifests_fit_together() {
    let deployment = kube("Deployment");
    let pod = &deployment["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(deployment["spec"]["selector"]["matchLabels"], *labels);
    let container = &pod["spec"]["containers"][0];
    let port = &container["ports"][0];
    assert_eq!(port["name"], "http");
    let config = kube("ConfigMap");
    assert_eq!(
        container["envFrom"][0]["configMapRef"]["name"],
        config["metadata"]["name"]
    );
    assert_eq!(
        u64::from(port_of(&s(&config["data"]["PLUGBOARD_LISTEN"]))),
        port["containerPort"].as_u64().unwrap()
    );
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["port"], "http", "{probe}");
    }
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(
        s(&pod["metadata"]["annotations"]["prometheus.io/port"]),
        port["containerPort"].to_string()
    );
    // Non-root, read-only root, nothing extra.
    let pod_sc = &pod["spec"]["securityContext"];
    assert_eq!(pod_sc["runAsNonRoot"], true);
    assert_eq!(pod_sc["runAsUser"], 65532);
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    // The grace period covers the preStop pause plus the server's 10 s drain.
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap();
    assert!(
        grace >= pre_stop + 10,
        "grace {grace}s, preStop {pre_stop}s"
    );
    // Every secret file a setting names is a key of the mounted Secret.
    let secret = kube("Secret");
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            pod["spec"]["volumes"].as_array().unwrap().iter().any(|v| {
                v["name"] == m["name"] && v["secret"]["secretName"] == secret["metadata"]["name"]
            })
        })
        .expect("the Secret is mounted");
    for e in container["env"].as_array().unwrap() {
        if s(&e["name"]).ends_with("_FILE") {
            let path = s(&e["value"]);
            let key = path
                .strip_prefix(&format!("{}/", s(&mount["mountPath"])))
                .unwrap_or_else(|| panic!("{path} is under the secret mount"));
            assert!(
                secret["stringData"].get(key).is_some(),
                "{key} in the Secret"
            );
        }
    }
    // The Service, the autoscaler and the disruption budget find the pods.
    let service = kube("Service");
    assert_eq!(service["spec"]["selector"], *labels);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    let hpa = kube("HorizontalPodAutoscaler");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 2);
    let pdb = kube("PodDisruptionBudget");
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], *labels);
    let k = yaml("deploy/kubernetes/kustomization.yaml");
    assert_eq!(
        k["images"][0]["name"],
        container["image"]
            .as_str()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
    );
}

#[tokio::test]
async fn probes_and_health_checks_name_routes_the_server_serves() {
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    let deployment = kube("Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        paths.insert(
            format!("kubernetes {probe}"),
            s(&container[probe]["httpGet"]["path"]),
        );
    }
    for l in read("deploy/haproxy.cfg").lines() {
        if let Some(rest) = l.trim().strip_prefix("http-check send ") {
            let uri = rest.split_whitespace().skip_while(|w| *w != "uri").nth(1);
            paths.insert("haproxy http-check".into(), uri.unwrap().to_owned());
        }
    }
    // The image's and compose's health check is `plugboard healthcheck`: GET /healthz.
    let hc = docker_instructions("HEALTHCHECK");
    assert_eq!(hc.len(), 1);
    assert!(
        hc[0].contains(r#"CMD ["/usr/local/bin/plugboard", "healthcheck"]"#),
        "{}",
        hc[0]
    );
    paths.insert("plugboard healthcheck".into(), "/healthz".into());
    paths.insert("plugboard healthcheck --ready".into(), "/readyz".into());
    let app = spawn_app().await;
    for (who, path) in &paths {
        assert!(
            ["/healthz", "/readyz"].contains(&path.as_str()),
            "{who}: {path}"
        );
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{who}: GET {path}");
    }
    // The image listens where it says it does.
    let expose = docker_instructions("EXPOSE");
    assert_eq!(
        expose,
        vec![port_of(&image_env()["PLUGBOARD_LISTEN"]).to_string()]
    );
}

// ---------------------------------------------------------------------------------------
// The dashboard and the metrics

/// The agreed metrics (issue 8): name, kind, labels. The dashboard may query these only.
const METRICS: &[(&str, &str, &[&str])] = &[
    (
        "plugboard_http_requests_total",
        "counter",
        &["method", "route", "status"],
    ),
    (
        "plugboard_http_request_duration_seconds",
        "histogram",
        &["route"],
    ),
    ("plugboard_connects_started_total", "counter", &["platform"]),
    (
        "plugboard_connects_completed_total",
        "counter",
        &["platform"],
    ),
    (
        "plugboard_connects_failed_total",
        "counter",
        &["platform", "code"],
    ),
    (
        "plugboard_callback_duration_seconds",
        "histogram",
        &["platform"],
    ),
    (
        "plugboard_token_exchange_duration_seconds",
        "histogram",
        &["platform"],
    ),
    (
        "plugboard_refreshes_total",
        "counter",
        &["platform", "outcome"],
    ),
    (
        "plugboard_webhook_deliveries_total",
        "counter",
        &["outcome"],
    ),
    ("plugboard_webhook_backlog", "gauge", &[]),
    (
        "plugboard_store_operation_duration_seconds",
        "histogram",
        &["operation"],
    ),
    ("plugboard_lease_steals_total", "counter", &["lease"]),
    ("plugboard_rate_limited_total", "counter", &[]),
    ("plugboard_circuit_open", "gauge", &["platform"]),
    (
        "plugboard_platform_calls_total",
        "counter",
        &["platform", "outcome"],
    ),
];

/// Agreed metrics the traffic below does not produce: they appear only when their event
/// happens (a webhook delivery, a take-over — checked by tests/e2e/metrics.rs and
/// tests/e2e/replicas.rs) or when a platform's breaker opens (tests/e2e/metrics.rs).
/// The test below checks every other agreed metric is on /metrics, and fails, naming it,
/// if a listed one shows up (then it belongs off the list).
const NOT_YET_SERVED: &[&str] = &[
    "plugboard_webhook_deliveries_total",
    "plugboard_lease_steals_total",
    "plugboard_circuit_open",
];

/// Labels every series has from the scrape, and histograms' bucket bound.
const SCRAPE_LABELS: &[&str] = &["job", "instance", "le"];

fn spec(name: &str) -> Option<&'static (&'static str, &'static str, &'static [&'static str])> {
    METRICS.iter().find(|(n, _, _)| *n == name)
}

/// The agreed metrics an expression queries (a histogram's `_bucket`/`_sum`/`_count`
/// series count as the histogram); panics on any other `plugboard_*` name.
fn metrics_in(expr: &str) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("plugboard_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|b| spec(b).is_some_and(|(_, kind, _)| *kind == "histogram"))
            })
            .unwrap_or(&name);
        let (n, kind, _) =
            spec(base).unwrap_or_else(|| panic!("{name} is not an agreed metric (query: {expr})"));
        if *kind == "histogram" {
            assert_ne!(base, name.as_str(), "query a histogram's series: {expr}");
        }
        out.insert(*n);
    }
    out
}

/// The label names of one exposition-format sample, from after its `{`: `a="x",b="y"} 1`
/// (values may hold braces, commas and escaped quotes).
fn sample_labels(rest: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut chars = rest.chars();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim_start_matches(',').trim();
        if name.is_empty() || name.starts_with('}') {
            break;
        }
        out.insert(name.to_owned());
        assert_eq!(chars.next(), Some('"'), "quoted value after {name}=");
        let mut escaped = false;
        for c in chars.by_ref() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => break,
                _ => escaped = false,
            }
        }
    }
    out
}

/// Label names in `by (…)` clauses and `{…}` matchers.
fn labels_in(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in expr.split("by (").skip(1) {
        for l in part.split(')').next().unwrap().split(',') {
            out.insert(l.trim().to_owned());
        }
    }
    for part in expr.split('{').skip(1) {
        for m in part.split('}').next().unwrap().split(',') {
            let name: String = m
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[tokio::test]
async fn the_dashboard_queries_the_agreed_metrics_and_the_registered_ones_are_served() {
    let dash: Value = serde_json::from_str(&read("deploy/grafana/plugboard.json")).unwrap();
    let mut queries = Vec::new();
    let mut ids = BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "panel ids are unique"
        );
        let g = &p["gridPos"];
        assert!(
            g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
            "{} fits the grid",
            p["title"]
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{} queries something", p["title"]);
        for t in targets {
            queries.push(s(&t["expr"]));
        }
    }
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(vars.iter().any(|v| v["type"] == "datasource"));
    for v in vars.iter().filter(|v| v["type"] == "query") {
        queries.push(s(&v["query"]["query"]));
    }
    let mut queried = BTreeSet::new();
    for q in &queries {
        let metrics = metrics_in(q);
        let allowed: BTreeSet<&str> = metrics
            .iter()
            .flat_map(|m| spec(m).unwrap().2.iter().copied())
            .chain(SCRAPE_LABELS.iter().copied())
            .collect();
        for l in labels_in(q) {
            assert!(
                allowed.contains(l.as_str()),
                "label {l} is on none of {metrics:?}: {q}"
            );
        }
        queried.extend(metrics);
    }
    let agreed: BTreeSet<&str> = METRICS.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(queried, agreed, "the dashboard shows every agreed metric");

    // What the server exports after a little traffic: a whole connect against the sandbox
    // (start, consent, callback, token exchange), a refresh, a failed callback.
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/v1/profiles"] {
        app.get(path).await;
    }
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Twitter, "", &profile, "deploy-kit")
        .await;
    // A refresh, and a callback with an unknown state (a failed connect).
    app.call(
        reqwest::Method::POST,
        &format!("/v1/accounts/{}/refresh-token", q["accountId"]),
        None,
    )
    .await;
    app.get("/connect/twitter/callback?state=unknown&code=x")
        .await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = text.text().await.unwrap();
    let mut served: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            served.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
        } else if !line.starts_with('#') && line.contains('{') {
            let (series, rest) = line.split_once('{').unwrap();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| series.strip_suffix(suffix))
                .filter(|b| served.contains_key(*b))
                .unwrap_or(series);
            if let Some((_, labels)) = served.get_mut(base) {
                labels.extend(sample_labels(rest));
            }
        }
    }
    for (name, kind, labels) in METRICS {
        if NOT_YET_SERVED.contains(name) {
            assert!(
                !served.contains_key(*name),
                "{name} is served now: remove it from NOT_YET_SERVED in tests/e2e/deploy_kits.rs"
            );
            continue;
        }
        let (served_kind, served_labels) = served
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is not on /metrics:\n{text}"));
        assert_eq!(served_kind, kind, "{name}");
        for l in *labels {
            assert!(served_labels.contains(*l), "{name} has no label {l}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The image's build steps, and the health check the image runs

#[tokio::test]
async fn the_image_build_steps_run_as_a_script() {
    // What the builder stage runs, and what the runtime stage copies out of it.
    let run = docker_instructions("RUN").join("\n");
    assert!(run.contains("deploy/build-steps.sh build"), "{run}");
    assert!(run.contains("deploy/build-steps.sh stage /rootfs"), "{run}");
    let script = read("deploy/build-steps.sh");
    assert!(script.contains("--locked -p plugboard"));
    let dir = tempfile::tempdir().unwrap();
    // The image's root is world-traversable; the staged root must be too, for the
    // non-root user the smoke step runs the server as.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let root = dir.path().join("rootfs");
    for step in ["stage", "smoke"] {
        let out = tokio::process::Command::new("bash")
            .arg(repo().join("deploy/build-steps.sh"))
            .arg(step)
            .arg(&root)
            .env("BIN", BIN)
            .output()
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "build-steps.sh {step}:\n{text}");
        if step == "smoke" {
            assert!(text.contains("smoke test passed"), "{text}");
        }
    }
    for copy in docker_instructions("COPY") {
        if let Some(rest) = copy.strip_prefix("--from=builder ") {
            let src = rest
                .split_whitespace()
                .find(|w| w.starts_with("/rootfs"))
                .unwrap();
            let staged = root.join(src.trim_start_matches("/rootfs/"));
            assert!(
                staged.exists(),
                "COPY {src}: the stage step made {staged:?}"
            );
        }
    }
    let entry = docker_instructions("ENTRYPOINT").join("");
    assert!(entry.contains("/usr/local/bin/plugboard"));
    assert!(root.join("usr/local/bin/plugboard").exists());
    assert_eq!(docker_instructions("USER"), vec!["65532:65532"]);

    // `--locked` builds refuse a stale Cargo.lock; check it is current without building
    // (`cargo tree` resolves like a build, and needs only packages the tests were built with).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = tokio::process::Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            "plugboard",
            "--depth",
            "0",
        ])
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "Cargo.lock is stale: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn healthcheck_subcommand_reports_the_server_state_by_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, _) = start_command(plugboard(dir.path())).await;
    let listen = url.trim_start_matches("http://").to_owned();
    let run = |args: &[&str], listen: &str| {
        let mut cmd = plugboard(dir.path());
        cmd.env("PLUGBOARD_LISTEN", listen)
            .arg("healthcheck")
            .args(args);
        cmd
    };
    for args in [&[][..], &["--ready"][..]] {
        let out = run(args, &listen).output().await.unwrap();
        assert_eq!(out.status.code(), Some(0), "healthcheck {args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with("ok: "), "{stdout}");
    }
    let out = run(&["--url", &url], "127.0.0.1:0").output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "with --url");
    // Nothing listening: exit 1 and one line saying so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let out = run(&[], &closed_addr).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("healthcheck"), "{stderr}");
    // Port 0 names no server to ask.
    let out = run(&[], "127.0.0.1:0").output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url"));
    child.kill().await.unwrap();
}
