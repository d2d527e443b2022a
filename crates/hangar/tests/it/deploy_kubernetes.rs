//! `deploy/kubernetes`: the Airflow 3 deployment as plain manifests.
//!
//! Fast tier: the wiring, read with `serde_yaml_ng` (init containers waiting for migrations,
//! the migration Job, probes through hangar, security contexts, writable paths, the keytab,
//! warm shutdown, the Secret template, one image, the Kerberos variants, Services).
//!
//! Full tier (`full-tests`): every manifest validates strictly (unknown fields are errors)
//! against the Kubernetes API's JSON schemas, offline, with `kubernetes-validate` from PyPI in a
//! cached venv (`hangar_testkit::k8s`), and the validator is shown to reject broken manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use crate::yaml::{load_all, s, seq, strings};

/// The worker Deployments: the plain one (in kustomization.yaml) and the Kerberos variants that
/// replace it.
const PLAIN_WORKER: &str = "worker.yaml";
const KERBEROS_WORKERS: [&str; 2] = ["worker-deployment.yaml", "worker-native-sidecar.yaml"];

/// Manifests deliberately not in kustomization.yaml.
const NOT_APPLIED: [&str; 6] = [
    "secret.template.yaml",
    "pod-template-file.yaml",
    "krb5-config.yaml",
    "flower.yaml",
    "worker-deployment.yaml",
    "worker-native-sidecar.yaml",
];

const KEYTAB_SECRET: &str = "airflow-kerberos-keytab";
const AIRFLOW_HOME: &str = "/opt/airflow";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

/// One YAML document of a manifest file.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        s(&self.value["kind"])
    }

    fn name(&self) -> &str {
        s(&self.value["metadata"]["name"])
    }
}

fn load(file: &str) -> Vec<Doc> {
    load_all(&dir().join(file))
        .into_iter()
        .map(|value| Doc {
            file: file.to_owned(),
            value,
        })
        .collect()
}

/// The manifest files (every `*.yaml` but kustomization.yaml), sorted.
fn manifest_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    files
}

fn all_docs() -> Vec<Doc> {
    manifest_files().iter().flat_map(|f| load(f)).collect()
}

fn kustomization() -> Value {
    load("kustomization.yaml").remove(0).value
}

fn kustomization_resources() -> Vec<String> {
    strings(&kustomization()["resources"])
}

/// A pod spec of a manifest: a Deployment's or Job's template, or a Pod's spec.
struct PodSpec {
    what: String,
    component: String,
    spec: Value,
}

impl PodSpec {
    fn init(&self) -> Vec<Value> {
        seq(&self.spec["initContainers"])
    }

    fn main(&self) -> Vec<Value> {
        seq(&self.spec["containers"])
    }

    fn containers(&self) -> Vec<Value> {
        self.init().into_iter().chain(self.main()).collect()
    }

    fn volume(&self, name: &str) -> Value {
        seq(&self.spec["volumes"])
            .into_iter()
            .find(|v| s(&v["name"]) == name)
            .unwrap_or_else(|| panic!("{}: no volume {name}", self.what))
    }

    /// The main Airflow container (the first main container that is not a refresher).
    fn airflow(&self) -> Value {
        self.main()
            .into_iter()
            .find(|c| !is_refresher(c))
            .unwrap_or_else(|| panic!("{}: no Airflow container", self.what))
    }

    fn wait_for_migrations(&self) -> Vec<Value> {
        self.init()
            .into_iter()
            .filter(|c| argv(c).iter().any(|a| a == "--migrated"))
            .collect()
    }
}

fn pod_spec(doc: &Doc) -> Option<PodSpec> {
    let (spec, labels) = match doc.kind() {
        "Deployment" | "Job" => (
            &doc.value["spec"]["template"]["spec"],
            &doc.value["spec"]["template"]["metadata"]["labels"],
        ),
        "Pod" => (&doc.value["spec"], &doc.value["metadata"]["labels"]),
        _ => return None,
    };
    Some(PodSpec {
        what: format!("{}: {} {}", doc.file, doc.kind(), doc.name()),
        component: s(&labels["app.kubernetes.io/component"]).to_owned(),
        spec: spec.clone(),
    })
}

fn pod_specs(docs: &[Doc]) -> Vec<PodSpec> {
    docs.iter().filter_map(pod_spec).collect()
}

fn deployments(docs: &[Doc]) -> Vec<PodSpec> {
    docs.iter()
        .filter(|d| d.kind() == "Deployment")
        .filter_map(pod_spec)
        .collect()
}

/// `command` then `args`.
fn argv(c: &Value) -> Vec<String> {
    strings(&c["command"])
        .into_iter()
        .chain(strings(&c["args"]))
        .collect()
}

/// A Kerberos ticket refresher: runs `hangar kerberos` (not `hangar kerberos check`).
fn is_refresher(c: &Value) -> bool {
    let a = argv(c);
    a.len() >= 2 && a[0] == "hangar" && a[1] == "kerberos" && a.get(2).is_none_or(|x| x != "check")
}

fn env(c: &Value) -> BTreeMap<String, Value> {
    seq(&c["env"])
        .into_iter()
        .map(|e| (s(&e["name"]).to_owned(), e))
        .collect()
}

fn env_value(c: &Value, name: &str) -> Option<String> {
    env(c).get(name).map(|e| s(&e["value"]).to_owned())
}

fn mounts(c: &Value) -> Vec<Value> {
    seq(&c["volumeMounts"])
}

fn mount_at(c: &Value, path: &str) -> Option<Value> {
    mounts(c).into_iter().find(|m| s(&m["mountPath"]) == path)
}

fn config_map(docs: &[Doc], name: &str) -> Value {
    docs.iter()
        .find(|d| d.kind() == "ConfigMap" && d.name() == name)
        .unwrap_or_else(|| panic!("no ConfigMap {name}"))
        .value
        .clone()
}

fn probes(c: &Value) -> Vec<(&'static str, Value)> {
    ["startupProbe", "livenessProbe", "readinessProbe"]
        .into_iter()
        .filter(|p| c.get(*p).is_some())
        .map(|p| (p, c[p].clone()))
        .collect()
}

/// The image name without its tag, as kustomize's `images` matches it.
fn image_name(image: &str) -> &str {
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

#[test]
fn kustomization_applies_one_worker_and_accounts_for_every_file() {
    let k = kustomization();
    assert_eq!(s(&k["kind"]), "Kustomization");
    let resources = kustomization_resources();
    for r in &resources {
        assert!(
            dir().join(r).is_file(),
            "kustomization.yaml lists {r}, which does not exist"
        );
    }
    let workers: Vec<&String> = resources
        .iter()
        .filter(|r| *r == PLAIN_WORKER || KERBEROS_WORKERS.contains(&r.as_str()))
        .collect();
    assert_eq!(
        workers,
        [PLAIN_WORKER],
        "exactly one worker Deployment is applied"
    );
    for file in manifest_files() {
        let listed = resources.contains(&file);
        let not_applied = NOT_APPLIED.contains(&file.as_str());
        assert!(
            listed != not_applied,
            "{file}: either a resource of kustomization.yaml or one of the files kept out of it \
             on purpose ({NOT_APPLIED:?})"
        );
    }
    // No two applied resources share a kind and name.
    let mut seen = BTreeSet::new();
    for doc in resources.iter().flat_map(|f| load(f)) {
        let id = (doc.kind().to_owned(), doc.name().to_owned());
        assert!(
            seen.insert(id.clone()),
            "{}: {id:?} is defined twice",
            doc.file
        );
    }
    for want in [
        "Job",
        "ConfigMap",
        "ServiceAccount",
        "Deployment",
        "Service",
    ] {
        assert!(seen.iter().any(|(k, _)| k == want), "no {want} is applied");
    }
    assert!(
        !seen.iter().any(|(k, _)| k == "Secret"),
        "no Secret is applied: they are created by hand from secret.template.yaml"
    );
    // The `images` transformer covers every image the manifests use.
    let names: BTreeSet<String> = seq(&k["images"])
        .iter()
        .map(|i| s(&i["name"]).to_owned())
        .collect();
    for spec in pod_specs(&all_docs()) {
        for c in spec.containers() {
            let image = s(&c["image"]);
            assert!(
                names.contains(image_name(image)),
                "{}: image {image} is not in kustomization.yaml's images {names:?}",
                spec.what
            );
        }
    }
}

#[test]
fn every_deployment_waits_for_migrations_in_an_init_container_of_its_image() {
    let docs = all_docs();
    let expected: BTreeMap<&str, Vec<&str>> = [
        ("api-server", vec!["airflow", "api-server"]),
        ("scheduler", vec!["airflow", "scheduler"]),
        ("dag-processor", vec!["airflow", "dag-processor"]),
        ("triggerer", vec!["airflow", "triggerer"]),
        ("worker", vec!["airflow", "celery", "worker"]),
        ("flower", vec!["airflow", "celery", "flower"]),
    ]
    .into_iter()
    .collect();
    let mut found = BTreeSet::new();
    for d in deployments(&docs) {
        let airflow = d.airflow();
        let want = expected
            .get(d.component.as_str())
            .unwrap_or_else(|| panic!("{}: unexpected component {:?}", d.what, d.component));
        assert_eq!(argv(&airflow), *want, "{}: the component's command", d.what);
        assert!(
            airflow.get("command").is_none(),
            "{}: only `args`, so the image's entrypoint (hangar) runs",
            d.what
        );
        assert_eq!(
            env_value(&airflow, "HANGAR_WAIT_FOR_MIGRATIONS").as_deref(),
            Some("true"),
            "{}: the entrypoint also waits for the migrations",
            d.what
        );
        let waits = d.wait_for_migrations();
        assert_eq!(
            waits.len(),
            1,
            "{}: one init container waits for migrations",
            d.what
        );
        let wait = &waits[0];
        assert_eq!(
            strings(&wait["command"]),
            ["hangar", "wait", "db", "--migrated"],
            "{}",
            d.what
        );
        assert!(wait.get("args").is_none(), "{}", d.what);
        assert_eq!(
            s(&wait["image"]),
            s(&airflow["image"]),
            "{}: the wait runs the component's image (its Airflow's migration head)",
            d.what
        );
        let sources = seq(&airflow["envFrom"]);
        for source in seq(&wait["envFrom"]) {
            assert!(
                sources.contains(&source),
                "{}: the wait reads the component's configuration",
                d.what
            );
        }
        assert!(
            seq(&wait["envFrom"]).len() >= 2,
            "{}: the wait reads the ConfigMap and the Secret",
            d.what
        );
        // After the wait only the main containers (or a native sidecar) follow.
        let init = d.init();
        let pos = init.iter().position(|c| c == wait).unwrap();
        for later in &init[pos + 1..] {
            assert_eq!(s(&later["restartPolicy"]), "Always", "{}", d.what);
        }
        found.insert(d.component.clone());
    }
    let want: BTreeSet<String> = expected.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(found, want, "every component has a Deployment");
}

#[test]
fn the_migration_job_is_a_plain_job_that_does_not_wait_for_itself() {
    let docs = all_docs();
    let jobs: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "Job").collect();
    assert_eq!(jobs.len(), 1, "one Job");
    let job = jobs[0];
    assert!(
        kustomization_resources().contains(&job.file),
        "the Job is applied with the rest"
    );
    for meta in [
        &job.value["metadata"],
        &job.value["spec"]["template"]["metadata"],
    ] {
        if let Some(annotations) = meta["annotations"].as_mapping() {
            for key in annotations.keys() {
                let key = s(key);
                assert!(
                    !key.starts_with("helm.sh/") && !key.starts_with("argocd.argoproj.io/hook"),
                    "{}: the Job must not be a hook ({key})",
                    job.file
                );
            }
        }
    }
    let spec = pod_spec(job).unwrap();
    assert!(
        ["OnFailure", "Never"].contains(&s(&spec.spec["restartPolicy"])),
        "{}",
        spec.what
    );
    for c in spec.containers() {
        assert!(
            !argv(&c).iter().any(|a| a == "--migrated"),
            "{}: {} would wait for itself",
            spec.what,
            s(&c["name"])
        );
        assert!(
            !env(&c).contains_key("HANGAR_WAIT_FOR_MIGRATIONS"),
            "{}: {} would wait for itself",
            spec.what,
            s(&c["name"])
        );
    }
    // The Job loads the shared ConfigMap, so it must not carry the wait either.
    let config = config_map(&docs, "airflow-config");
    assert!(config["data"].get("HANGAR_WAIT_FOR_MIGRATIONS").is_none());

    // The migration is a command (its failure fails the Job), after a wait for the server.
    let init = spec.init();
    let migrate = init
        .iter()
        .find(|c| argv(c) == ["airflow", "db", "migrate"])
        .unwrap_or_else(|| panic!("{}: an init container runs `airflow db migrate`", spec.what));
    assert!(
        migrate.get("command").is_none(),
        "{}: through the entrypoint",
        spec.what
    );
    assert_eq!(
        env_value(migrate, "HANGAR_WAIT_FOR_DB").as_deref(),
        Some("always"),
        "{}: the entrypoint waits for the database before migrating",
        spec.what
    );
    // Then the admin user, with the password from a Secret, for the FAB auth manager.
    let create = spec
        .main()
        .into_iter()
        .find(|c| env_value(c, "_AIRFLOW_WWW_USER_CREATE").as_deref() == Some("true"))
        .unwrap_or_else(|| panic!("{}: a container creates the admin user", spec.what));
    let password = &env(&create)["_AIRFLOW_WWW_USER_PASSWORD"];
    assert!(
        password.get("value").is_none(),
        "{}: no literal password",
        spec.what
    );
    assert_eq!(
        s(&password["valueFrom"]["secretKeyRef"]["name"]),
        "airflow-admin-user"
    );
    assert!(
        s(&config["data"]["AIRFLOW__CORE__AUTH_MANAGER"]).ends_with(".FabAuthManager"),
        "the entrypoint creates users only for the FAB auth manager"
    );
}

#[test]
fn probes_and_commands_run_hangar_never_python_or_airflow_checks() {
    let docs = all_docs();
    let forbidden = [
        "python",
        "jobs check",
        "db check",
        "check-migrations",
        "celery inspect",
        "curl",
    ];
    for spec in pod_specs(&docs) {
        for c in spec.containers() {
            let name = s(&c["name"]).to_owned();
            let mut lines = vec![argv(&c).join(" ")];
            for (kind, probe) in probes(&c) {
                if probe.get("exec").is_some() {
                    let cmd = strings(&probe["exec"]["command"]);
                    assert_eq!(
                        cmd.first().map(String::as_str),
                        Some("hangar"),
                        "{}: {name}'s {kind} runs hangar: {cmd:?}",
                        spec.what
                    );
                    lines.push(cmd.join(" "));
                } else {
                    assert!(
                        probe.get("httpGet").is_some(),
                        "{}: {name}'s {kind} is an exec of hangar or an httpGet",
                        spec.what
                    );
                }
            }
            for line in &lines {
                for f in forbidden {
                    assert!(
                        !line.to_lowercase().contains(f),
                        "{}: {name} runs `{line}`, which contains {f:?}",
                        spec.what
                    );
                }
            }
        }
    }
    let exec = |c: &Value, probe: &str| strings(&c[probe]["exec"]["command"]);
    for d in deployments(&docs) {
        let c = d.airflow();
        match d.component.as_str() {
            comp @ ("scheduler" | "triggerer" | "dag-processor") => {
                let want = ["hangar", "health", comp, "--local"];
                assert_eq!(exec(&c, "livenessProbe"), want, "{}", d.what);
                assert_eq!(exec(&c, "startupProbe"), want, "{}", d.what);
            }
            "api-server" => {
                assert_eq!(
                    exec(&c, "livenessProbe"),
                    ["hangar", "health", "api-server"]
                );
                let ready = &c["readinessProbe"]["httpGet"];
                assert_eq!(s(&ready["path"]), "/api/v2/monitor/health");
                let port = seq(&c["ports"])
                    .into_iter()
                    .find(|p| p["name"] == ready["port"] || p["containerPort"] == ready["port"])
                    .expect("the readiness probe's port is a container port");
                assert_eq!(port["containerPort"].as_u64(), Some(8080));
            }
            "worker" => {
                assert_eq!(
                    exec(&c, "readinessProbe"),
                    ["hangar", "wait", "broker"],
                    "{}",
                    d.what
                );
            }
            "flower" => {
                assert_eq!(s(&c["livenessProbe"]["httpGet"]["path"]), "/healthcheck");
            }
            other => panic!("{}: unexpected component {other}", d.what),
        }
    }
}

#[test]
fn every_container_runs_restricted() {
    for spec in pod_specs(&all_docs()) {
        let pod = &spec.spec["securityContext"];
        assert_eq!(pod["runAsUser"].as_u64(), Some(50000), "{}", spec.what);
        assert_eq!(pod["runAsGroup"].as_u64(), Some(0), "{}", spec.what);
        assert_eq!(pod["fsGroup"].as_u64(), Some(0), "{}", spec.what);
        assert_eq!(pod["runAsNonRoot"].as_bool(), Some(true), "{}", spec.what);
        assert_eq!(
            s(&pod["seccompProfile"]["type"]),
            "RuntimeDefault",
            "{}",
            spec.what
        );
        assert_eq!(
            s(&spec.spec["serviceAccountName"]),
            "airflow",
            "{}",
            spec.what
        );
        assert_eq!(
            spec.spec["automountServiceAccountToken"].as_bool(),
            Some(false),
            "{}: no API token",
            spec.what
        );
        for key in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(spec.spec.get(key).is_none(), "{}: {key}", spec.what);
        }
        for c in spec.containers() {
            let what = format!("{}: {}", spec.what, s(&c["name"]));
            let sc = &c["securityContext"];
            assert_eq!(sc["runAsUser"].as_u64(), Some(50000), "{what}");
            assert_eq!(sc["runAsGroup"].as_u64(), Some(0), "{what}");
            assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true), "{what}");
            assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true), "{what}");
            assert_eq!(
                sc["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{what}"
            );
            assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{what}");
            assert!(sc["capabilities"].get("add").is_none(), "{what}");
            assert_ne!(sc["privileged"].as_bool(), Some(true), "{what}");
            assert_eq!(s(&sc["seccompProfile"]["type"]), "RuntimeDefault", "{what}");
        }
    }
}

#[test]
fn airflow_writes_only_to_emptydirs() {
    let docs = all_docs();
    let config = config_map(&docs, "airflow-config");
    let cfg = PathBuf::from(s(&config["data"]["AIRFLOW_CONFIG"]));
    let cfg_dir = cfg.parent().unwrap().to_str().unwrap().to_owned();
    let cfg_name = cfg.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        config_map(&docs, "airflow-config-file")["data"]
            .get(&cfg_name)
            .is_some(),
        "the ConfigMap airflow-config-file holds {cfg_name}, so Airflow finds it and writes none"
    );
    // Would hide what the image has there: the DAGs, plugins, the virtualenv.
    let hidden = [
        AIRFLOW_HOME.to_owned(),
        format!("{AIRFLOW_HOME}/dags"),
        format!("{AIRFLOW_HOME}/plugins"),
        "/home/airflow".to_owned(),
        "/home/airflow/.local".to_owned(),
    ];
    for spec in pod_specs(&docs) {
        for c in spec.containers() {
            let what = format!("{}: {}", spec.what, s(&c["name"]));
            // Only emptyDirs are writable.
            for m in mounts(&c) {
                let volume = spec.volume(s(&m["name"]));
                assert!(
                    volume.get("emptyDir").is_some() || m["readOnly"].as_bool() == Some(true),
                    "{what}: {} is writable but not an emptyDir",
                    s(&m["mountPath"])
                );
                assert!(
                    !hidden.iter().any(|h| h == s(&m["mountPath"])),
                    "{what}: a volume at {} hides the image's files",
                    s(&m["mountPath"])
                );
            }
            if is_refresher(&c) {
                continue;
            }
            assert!(
                seq(&c["envFrom"])
                    .iter()
                    .any(|e| s(&e["configMapRef"]["name"]) == "airflow-config"),
                "{what}: loads the ConfigMap airflow-config (AIRFLOW_CONFIG)"
            );
            for path in [format!("{AIRFLOW_HOME}/logs"), "/tmp".to_owned()] {
                let m = mount_at(&c, &path)
                    .unwrap_or_else(|| panic!("{what}: a writable volume at {path}"));
                assert!(
                    spec.volume(s(&m["name"])).get("emptyDir").is_some(),
                    "{what}: {path} is an emptyDir"
                );
                assert_ne!(m["readOnly"].as_bool(), Some(true), "{what}: {path}");
            }
            let m = mount_at(&c, &cfg_dir)
                .unwrap_or_else(|| panic!("{what}: airflow.cfg mounted at {cfg_dir}"));
            assert_eq!(m["readOnly"].as_bool(), Some(true), "{what}");
            assert!(
                m.get("subPath").is_none(),
                "{what}: edits reach running pods"
            );
            let volume = spec.volume(s(&m["name"]));
            assert_eq!(
                s(&volume["configMap"]["name"]),
                "airflow-config-file",
                "{what}"
            );
        }
    }
}

#[test]
fn the_keytab_reaches_only_the_refreshers() {
    let mut refresher_files = BTreeSet::new();
    for spec in pod_specs(&all_docs()) {
        let volumes = seq(&spec.spec["volumes"]);
        let keytab: Vec<String> = volumes
            .iter()
            .filter(|v| v.get("secret").is_some())
            .map(|v| {
                assert_eq!(
                    s(&v["secret"]["secretName"]),
                    KEYTAB_SECRET,
                    "{}: the only Secret volume is the keytab (the rest comes by envFrom)",
                    spec.what
                );
                s(&v["name"]).to_owned()
            })
            .collect();
        for c in spec.containers() {
            let what = format!("{}: {}", spec.what, s(&c["name"]));
            let mounts_keytab = mounts(&c)
                .iter()
                .any(|m| keytab.contains(&s(&m["name"]).to_owned()));
            let text = serde_yaml_ng::to_string(&c).unwrap();
            if is_refresher(&c) {
                refresher_files.insert(spec.what.split(':').next().unwrap().to_owned());
                assert!(mounts_keytab, "{what}: the refresher reads the keytab");
                assert!(
                    c.get("envFrom").is_none() && !text.contains("secretKeyRef"),
                    "{what}: the refresher gets no Airflow secrets"
                );
            } else {
                assert!(
                    !mounts_keytab,
                    "{what}: the keytab must not reach this container"
                );
                assert!(!text.contains(KEYTAB_SECRET), "{what}");
                assert!(
                    !env(&c).keys().any(|k| k.contains("KEYTAB")),
                    "{what}: no keytab setting"
                );
            }
        }
    }
    let want: BTreeSet<String> = KERBEROS_WORKERS
        .iter()
        .chain(&["pod-template-file.yaml"])
        .map(|f| (*f).to_owned())
        .collect();
    assert_eq!(
        refresher_files, want,
        "refreshers only in the Kerberos variants"
    );
}

#[test]
fn workers_shut_down_warm() {
    let docs = all_docs();
    let mut workers = 0;
    for d in deployments(&docs) {
        for c in d.containers() {
            if d.component != "worker" || c != d.airflow() {
                assert_ne!(
                    env_value(&c, "DUMB_INIT_SETSID").as_deref(),
                    Some("0"),
                    "{}: only the worker signals its command alone",
                    d.what
                );
            }
        }
        if d.component != "worker" {
            continue;
        }
        workers += 1;
        let c = d.airflow();
        assert_eq!(argv(&c), ["airflow", "celery", "worker"], "{}", d.what);
        assert_eq!(
            env_value(&c, "DUMB_INIT_SETSID").as_deref(),
            Some("0"),
            "{}: SIGTERM to Celery's main process only (warm shutdown)",
            d.what
        );
        let grace = d.spec["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap_or(30);
        assert!(
            grace >= 300,
            "{}: a grace period longer than a task, not {grace} s",
            d.what
        );
    }
    assert_eq!(workers, 3, "worker.yaml and its two Kerberos variants");
}

#[test]
fn the_secret_template_holds_placeholders_only() {
    let docs = all_docs();
    const TEMPLATE: &str = "secret.template.yaml";
    for d in &docs {
        assert!(
            d.kind() != "Secret" || d.file == TEMPLATE,
            "{}: Secrets only in {TEMPLATE}",
            d.file
        );
    }
    let text = std::fs::read_to_string(dir().join(TEMPLATE)).unwrap();
    let mut templates = BTreeMap::new();
    for d in docs.iter().filter(|d| d.file == TEMPLATE) {
        assert_eq!(d.kind(), "Secret", "{TEMPLATE}: {}", d.name());
        assert!(
            d.value.get("data").is_none(),
            "{TEMPLATE}: {}: stringData only",
            d.name()
        );
        assert!(
            text.contains(&format!("kubectl create secret generic {}", d.name())),
            "{TEMPLATE}: says how to create {}",
            d.name()
        );
        let data = d.value["stringData"].as_mapping().expect("stringData");
        let mut keys = BTreeSet::new();
        for (k, v) in data {
            assert!(
                s(v).contains("<REPLACE_ME"),
                "{TEMPLATE}: {}.{} is a placeholder, not a value",
                d.name(),
                s(k)
            );
            keys.insert(s(k).to_owned());
        }
        templates.insert(d.name().to_owned(), keys);
    }
    let app = &templates["airflow-secrets"];
    for key in [
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
    ] {
        assert!(app.contains(key), "{TEMPLATE}: airflow-secrets has {key}");
    }
    // Nothing secret elsewhere: not in the ConfigMaps, not as a literal env value.
    let secretish = |k: &str| {
        let k = k.to_uppercase();
        [
            "PASSWORD",
            "SECRET",
            "FERNET",
            "JWT",
            "SQL_ALCHEMY_CONN",
            "TOKEN",
        ]
        .iter()
        .any(|w| k.contains(w))
    };
    for d in docs.iter().filter(|d| d.kind() == "ConfigMap") {
        for (k, v) in d.value["data"].as_mapping().unwrap() {
            assert!(
                !secretish(s(k)),
                "{}: {} belongs in the Secret",
                d.file,
                s(k)
            );
            let v = s(v);
            if let Some(rest) = v.split_once("://").map(|(_, r)| r) {
                let authority = rest.split('/').next().unwrap_or_default();
                assert!(
                    !authority.contains('@'),
                    "{}: {}: no credentials in URLs",
                    d.file,
                    s(k)
                );
            }
        }
    }
    // Every Secret reference names a templated Secret (and key) or the keytab.
    for spec in pod_specs(&docs) {
        for c in spec.containers() {
            for (name, e) in env(&c) {
                assert!(
                    !secretish(&name) || e.get("value").is_none(),
                    "{}: {name} comes from a Secret, not a literal",
                    spec.what
                );
                let r = &e["valueFrom"]["secretKeyRef"];
                if !r.is_null() {
                    let keys = templates.get(s(&r["name"])).unwrap_or_else(|| {
                        panic!("{}: Secret {} not templated", spec.what, s(&r["name"]))
                    });
                    assert!(
                        keys.contains(s(&r["key"])),
                        "{}: key {}",
                        spec.what,
                        s(&r["key"])
                    );
                }
            }
            for e in seq(&c["envFrom"]) {
                if let Some(name) = e["secretRef"]["name"].as_str() {
                    assert!(templates.contains_key(name), "{}: Secret {name}", spec.what);
                }
            }
        }
    }
}

#[test]
fn every_airflow_container_runs_one_image() {
    let mut airflow = BTreeSet::new();
    let mut sidecar = BTreeSet::new();
    for spec in pod_specs(&all_docs()) {
        for c in spec.containers() {
            let image = s(&c["image"]).to_owned();
            assert!(
                !image.is_empty(),
                "{}: {} has an image",
                spec.what,
                s(&c["name"])
            );
            if is_refresher(&c) {
                sidecar.insert(image);
            } else {
                airflow.insert(image);
            }
        }
    }
    assert_eq!(airflow.len(), 1, "one Airflow image reference: {airflow:?}");
    assert_eq!(
        sidecar.len(),
        1,
        "one Kerberos sidecar image reference: {sidecar:?}"
    );
    assert!(airflow.is_disjoint(&sidecar));
}

/// `sub` holds every entry of `base` (by value).
fn superset(what: &str, base: &[Value], sub: &[Value]) -> Vec<Value> {
    for b in base {
        assert!(
            sub.contains(b),
            "{what}: lacks {}",
            serde_yaml_ng::to_string(b).unwrap()
        );
    }
    sub.iter().filter(|x| !base.contains(x)).cloned().collect()
}

#[test]
fn kerberos_workers_are_the_plain_worker_plus_the_refresher() {
    let plain_docs = load(PLAIN_WORKER);
    let plain_dep = plain_docs
        .iter()
        .find(|d| d.kind() == "Deployment")
        .unwrap();
    let plain = pod_spec(plain_dep).unwrap();
    for file in KERBEROS_WORKERS {
        let docs = load(file);
        let dep = docs.iter().find(|d| d.kind() == "Deployment").unwrap();
        let k = pod_spec(dep).unwrap();
        assert_eq!(
            dep.name(),
            plain_dep.name(),
            "{file}: replaces {PLAIN_WORKER}"
        );
        for key in ["replicas", "selector"] {
            assert_eq!(
                dep.value["spec"][key], plain_dep.value["spec"][key],
                "{file}: {key}"
            );
        }
        assert_eq!(
            dep.value["spec"]["template"]["metadata"],
            plain_dep.value["spec"]["template"]["metadata"],
            "{file}: pod labels"
        );
        for key in [
            "securityContext",
            "serviceAccountName",
            "automountServiceAccountToken",
            "subdomain",
            "terminationGracePeriodSeconds",
        ] {
            assert_eq!(k.spec[key], plain.spec[key], "{file}: {key}");
        }
        superset(file, &seq(&plain.spec["volumes"]), &seq(&k.spec["volumes"]));
        let pairs = [
            (plain.airflow(), k.airflow()),
            (
                plain.wait_for_migrations().remove(0),
                k.wait_for_migrations().remove(0),
            ),
        ];
        for (p, c) in pairs {
            let what = format!("{file}: {}", s(&c["name"]));
            for key in [
                "name",
                "image",
                "command",
                "args",
                "envFrom",
                "ports",
                "securityContext",
                "startupProbe",
                "livenessProbe",
                "readinessProbe",
                "resources",
            ] {
                assert_eq!(c.get(key), p.get(key), "{what}: {key} as in {PLAIN_WORKER}");
            }
            let added = superset(&what, &seq(&p["env"]), &seq(&c["env"]));
            let added: BTreeSet<&str> = added.iter().map(|e| s(&e["name"])).collect();
            assert!(
                added.contains("KRB5CCNAME") && added.contains("KRB5_CONFIG"),
                "{what}: the Kerberos environment"
            );
            for m in superset(&what, &mounts(&p), &mounts(&c)) {
                assert_eq!(
                    m["readOnly"].as_bool(),
                    Some(true),
                    "{what}: Kerberos mounts are read-only"
                );
            }
        }
        let others = |d: &[Doc]| -> Vec<Value> {
            d.iter()
                .filter(|x| x.kind() != "Deployment")
                .map(|x| x.value.clone())
                .collect()
        };
        assert_eq!(
            others(&docs),
            others(&plain_docs),
            "{file}: the same Service"
        );
    }
}

#[test]
fn services_and_urls_reach_their_pods() {
    let docs = all_docs();
    let deployment_docs: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "Deployment").collect();
    let mut ports_of = BTreeMap::new();
    for svc in docs.iter().filter(|d| d.kind() == "Service") {
        let selector = svc.value["spec"]["selector"]
            .as_mapping()
            .expect("selector");
        let matching: Vec<(&&Doc, PodSpec)> = deployment_docs
            .iter()
            .filter(|d| {
                let labels = &d.value["spec"]["template"]["metadata"]["labels"];
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .map(|d| (d, pod_spec(d).unwrap()))
            .collect();
        assert!(
            !matching.is_empty(),
            "{}: Service {} selects no pods",
            svc.file,
            svc.name()
        );
        for (d, spec) in &matching {
            assert_eq!(
                d.name(),
                matching[0].0.name(),
                "{}: {} selects one Deployment",
                svc.file,
                svc.name()
            );
            let container_ports: Vec<Value> =
                spec.main().iter().flat_map(|c| seq(&c["ports"])).collect();
            for p in seq(&svc.value["spec"]["ports"]) {
                let target = &p["targetPort"];
                let cp = container_ports
                    .iter()
                    .find(|cp| cp["name"] == *target || cp["containerPort"] == *target)
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: targetPort {target:?} of {} is no container port",
                            svc.file,
                            svc.name()
                        )
                    });
                ports_of.insert(svc.name().to_owned(), cp["containerPort"].as_u64().unwrap());
            }
            if s(&svc.value["spec"]["clusterIP"]) == "None" {
                assert_eq!(
                    s(&spec.spec["subdomain"]),
                    svc.name(),
                    "{}: pods of the headless Service {} get resolvable host names",
                    d.file,
                    svc.name()
                );
            }
        }
    }
    let config = config_map(&docs, "airflow-config");
    let data = &config["data"];
    assert_eq!(
        s(&data["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]),
        format!(
            "http://airflow-api-server:{}/execution/",
            ports_of["airflow-api-server"]
        )
    );
    assert_eq!(
        s(&data["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]),
        ports_of["airflow-worker"].to_string()
    );
    assert_eq!(
        s(&data["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]),
        ports_of["airflow-triggerer"].to_string()
    );
    assert!(s(&data["AIRFLOW__CORE__EXECUTOR"]).contains("CeleryExecutor"));
    // Every ConfigMap a pod names exists.
    let config_maps: BTreeSet<&str> = docs
        .iter()
        .filter(|d| d.kind() == "ConfigMap")
        .map(Doc::name)
        .collect();
    for spec in pod_specs(&docs) {
        for v in seq(&spec.spec["volumes"]) {
            if let Some(name) = v["configMap"]["name"].as_str() {
                assert!(
                    config_maps.contains(name),
                    "{}: ConfigMap {name}",
                    spec.what
                );
            }
        }
        for c in spec.containers() {
            for e in seq(&c["envFrom"]) {
                if let Some(name) = e["configMapRef"]["name"].as_str() {
                    assert!(
                        config_maps.contains(name),
                        "{}: ConfigMap {name}",
                        spec.what
                    );
                }
            }
        }
    }
}

/// Kustomize has mishandled YAML anchors, aliases and merge keys (kubernetes-sigs/kustomize
/// #3675, #4215): the manifests spell everything out.
#[test]
fn manifests_use_no_yaml_anchors() {
    for file in manifest_files()
        .iter()
        .chain(&["kustomization.yaml".to_owned()])
    {
        let text = std::fs::read_to_string(dir().join(file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split(" #").next().unwrap_or_default().trim_start();
            if code.starts_with('#') {
                continue;
            }
            let value = code
                .trim_start_matches("- ")
                .split_once(": ")
                .map_or(code.trim_start_matches("- "), |(_, v)| v)
                .trim();
            let anchor = |v: &str| {
                (v.starts_with('&') || v.starts_with('*'))
                    && v[1..].starts_with(|c: char| c.is_ascii_alphanumeric())
            };
            assert!(
                !anchor(value) && !code.starts_with("<<:"),
                "{file}:{}: YAML anchor, alias or merge key: {line}",
                n + 1
            );
        }
    }
}

#[cfg(feature = "full-tests")]
mod schemas {
    use std::path::{Path, PathBuf};

    use hangar_testkit::k8s::{KUBERNETES_VERSIONS, Report, validator};
    use serde_yaml_ng::Value;

    use super::{dir, load, manifest_files};

    fn validate(files: &[PathBuf]) -> Report {
        let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        validator().validate(&paths, &KUBERNETES_VERSIONS)
    }

    #[test]
    fn every_manifest_validates_strictly_against_the_kubernetes_schemas() {
        let files = manifest_files();
        let documents: usize = files.iter().map(|f| load(f).len()).sum();
        let paths: Vec<PathBuf> = files.iter().map(|f| dir().join(f)).collect();
        let report = validate(&paths);
        assert!(
            report.problems().is_empty(),
            "{:?}\n{}",
            report.problems(),
            report.output
        );
        assert_eq!(
            report.passed(),
            documents * KUBERNETES_VERSIONS.len(),
            "every document passed for every version:\n{}",
            report.output
        );
    }

    /// The check above can fail: the validator rejects an unknown field, a wrong type, and
    /// (through `problems`) a kind it has no schema for.
    #[test]
    fn the_validator_rejects_broken_manifests() {
        let tmp = tempfile::tempdir().unwrap();
        let scheduler = load("scheduler.yaml").remove(0).value;
        let write = |name: &str, value: &Value| {
            let path = tmp.path().join(name);
            std::fs::write(&path, serde_yaml_ng::to_string(value).unwrap()).unwrap();
            path
        };

        let mut unknown_field = scheduler.clone();
        unknown_field["spec"]["template"]["spec"]["containers"][0]
            .as_mapping_mut()
            .unwrap()
            .insert("livenessProbes".into(), Value::Null);
        let mut wrong_type = scheduler.clone();
        wrong_type["spec"]["replicas"] = Value::from("one");
        let mut unknown_kind = scheduler.clone();
        unknown_kind["kind"] = Value::from("Deploymnet");

        let good = validate(&[write("good.yaml", &scheduler)]);
        assert!(good.problems().is_empty(), "{}", good.output);
        for (name, value, needle) in [
            ("unknown-field.yaml", &unknown_field, "livenessProbes"),
            ("wrong-type.yaml", &wrong_type, "replicas"),
            ("unknown-kind.yaml", &unknown_kind, "Deploymnet"),
        ] {
            let report = validate(&[write(name, value)]);
            let problems = report.problems();
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{name}: the validator must reject it:\n{}",
                report.output
            );
            assert_eq!(report.passed(), 0, "{name}:\n{}", report.output);
        }
    }
}
