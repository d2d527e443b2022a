//! `deploy/compose/`: the CeleryExecutor stack, run for real.
//!
//! Debian's `docker-compose` (1.29) drives the test kit's own dockerd (`Dockerd`: its own
//! socket, no bridge, no iptables). Nothing can be pulled, so the test builds its images there:
//! Airflow 3.3.2 with `postgres,celery,redis` through `hangar build --engine docker` on the test
//! kit's Debian base, and PostgreSQL and Redis from Debian's packages
//! (`hangar_testkit::service_images`). It runs the shipped `celery.yaml` with an override that
//! it writes: every service on `network_mode: host`, everything on 127.0.0.1 and free ports
//! (from the stack's own variables, in a generated `.env`), a second worker that `extends` the
//! shipped one with its own hostname, Celery node name and log server port. The components run
//! as an arbitrary UID with GID 0; the api-server uses Airflow 3's simple auth manager with
//! every user an admin (the image has no `fab` extra), so the browser needs no login.
//!
//! The scenario, each step waiting for events with deadlines:
//! 1. `up -d` (with Flower's profile): the init service migrates and exits 0, every service
//!    turns healthy through its `hangar health` / `hangar wait` check;
//! 2. a DAG of four parallel tasks, triggered with `airflow dags trigger`, succeeds on both
//!    workers,
//!    then, with the shipped `kerberos.yaml` (the sidecar image from deploy/sidecar/Dockerfile,
//!    the test kit's MIT KDC on 127.0.0.1), a task on the `kerberos` queue runs `klist -s` on
//!    the first worker while neither worker's container has the keytab;
//! 3. warm shutdown: a worker stopped while its 20 s task runs lets it finish (same try, same
//!    worker) and exits 0 within its grace period;
//! 4. a killed scheduler is reported by `hangar health scheduler` within the threshold (host
//!    side and inside another container), and is healthy again once started;
//! 5. PostgreSQL stopped while a task runs, then started: the components recover (those that
//!    exit are restarted and wait for the database in their entrypoint) and the run succeeds;
//! 6. headless Chromium shows the successful run in the api-server's UI (DOM and screenshot,
//!    kept under `target/test-artefacts/deploy-compose/`);
//! 7. in the same daemon, a new stack on Airflow 2.10.5 (`airflow2.yaml`) with RabbitMQ
//!    (`rabbitmq.yaml`, an image from Debian's `rabbitmq-server`, loopback only) runs a DAG;
//! 8. the upgrade: Airflow stopped, the image switched to 3.3.2, `up -d`: the worker waits
//!    because the database is behind, the init service migrates 2 → 3, a run succeeds.
//!
//! On failure the compose logs are printed; `docker-compose down -v` and the daemon's stop run
//! in any case (drop guards). The other test checks the files themselves through
//! `docker-compose config`: the secrets are required, the wiring is as documented.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hangar_testkit::airflow::{AIRFLOW_2, AIRFLOW_3};
use hangar_testkit::docker::Dockerd;
use hangar_testkit::images::{BASE_IMAGE, HOST_CA_BUNDLE, build_lock, ensure_base_image};
use hangar_testkit::kdc::Kdc;
use hangar_testkit::servers::free_port;
use hangar_testkit::service_images::{self, POSTGRES_IMAGE, RABBITMQ_IMAGE, REDIS_IMAGE};
use hangar_testkit::{cache_dir, require_program};
use serde_yaml_ng::Value;

use crate::build_docker::docker_build;
use crate::image_checks::{EXTRAS, hangar_base_args};

const AIRFLOW_IMAGE: &str = "hangar-test/airflow-compose:1";
const SIDECAR_IMAGE: &str = "hangar-test/kerberos-sidecar:1";
const AIRFLOW2_IMAGE: &str = "hangar-test/airflow-compose:2";
const HANGAR: &str = env!("CARGO_BIN_EXE_hangar");

/// The services that keep running, with a health check each.
const RUNNING: [&str; 10] = [
    "postgres",
    "redis",
    "airflow-kerberos",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-worker-2",
    "airflow-flower",
];
/// The Airflow components (the init service aside).
const COMPONENTS: [&str; 7] = [
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-worker-2",
    "airflow-flower",
];
/// The workers: service, container hostname, Celery node name.
const WORKERS: [(&str, &str, &str); 2] = [
    ("airflow-worker", "worker-1", "celery-1@worker-1"),
    ("airflow-worker-2", "worker-2", "celery-2@worker-2"),
];
/// The variables `celery.yaml` requires (`${VAR:?…}`), all secrets but the image.
const REQUIRED: [&str; 7] = [
    "AIRFLOW_IMAGE",
    "POSTGRES_PASSWORD",
    "BROKER_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_JWT_SECRET",
    "_AIRFLOW_WWW_USER_PASSWORD",
];
/// `[scheduler] scheduler_health_check_threshold` of the stack, seconds.
const SCHEDULER_THRESHOLD: u64 = 15;
/// The workers' stop grace period, seconds (the long task sleeps 20 s).
const WORKER_GRACE: u64 = 90;
/// An arbitrary UID (GID 0), as OpenShift would give.
const AIRFLOW_UID: &str = "51234";

const DAGS: &str = r#""""DAGs of hangar's compose end-to-end test."""

import socket
import time
from datetime import datetime, timedelta

from airflow.sdk import dag, task

ARGS = {"retries": 3, "retry_delay": timedelta(seconds=3)}
START = datetime(2024, 1, 1)


@task
def sleeper(seconds: int) -> str:
    time.sleep(seconds)
    host = socket.gethostname()
    print(f"slept {seconds}s on {host}")
    return host


@dag(schedule=None, start_date=START, catchup=False, is_paused_upon_creation=False, default_args=ARGS)
def compose_parallel():
    for i in range(4):
        sleeper.override(task_id=f"sleep_{i}")(4)


@dag(schedule=None, start_date=START, catchup=False, is_paused_upon_creation=False, default_args=ARGS)
def compose_long():
    sleeper.override(task_id="sleep_long")(20)


@dag(schedule=None, start_date=START, catchup=False, is_paused_upon_creation=False, default_args=ARGS)
def compose_kerberos():
    @task(queue="kerberos")
    def has_ticket() -> str:
        import glob
        import os
        import subprocess

        # A valid ticket from the refresher's cache, and no keytab anywhere in this container.
        subprocess.run(["klist", "-s"], check=True)
        keytabs = [p for p in glob.glob("/run/secrets/*") + glob.glob("/etc/*.keytab")]
        assert not keytabs, keytabs
        return os.environ["KRB5CCNAME"] + " on " + socket.gethostname()

    has_ticket()


compose_parallel()
compose_long()
compose_kerberos()
"#;

fn compose_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/compose")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `n` random bytes from the kernel.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// URL-safe base64 with padding, as a Fernet key is written.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Polls `probe` every `every` until it returns `Ok`, or panics with `what` and the last
/// observation after `limit`.
fn wait_for<T>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {limit:?}; last seen: {last}"
                );
            }
        }
        std::thread::sleep(every);
    }
}

/// Debian's docker-compose with the caller's environment left out: only `PATH`, a `HOME` of
/// the test's own and the daemon's socket, so that no variable of the caller's shell overrides
/// the stack's `.env`.
fn compose_program(home: &Path, docker_host: Option<&str>) -> Command {
    let program = require_program("docker-compose", "docker-compose", &[]);
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(Stdio::null());
    if let Some(host) = docker_host {
        cmd.env("DOCKER_HOST", host);
    }
    cmd
}

// ---------------------------------------------------------------------------------------------
// The files, through `docker-compose config`

/// `docker-compose -f FILES… config` of the shipped files in `deploy/compose`, with `vars` in
/// a `.env` of `dir` (the project directory).
fn config(dir: &Path, files: &[&str], vars: &BTreeMap<&str, String>) -> Output {
    let mut env = String::new();
    for (k, v) in vars {
        let _ = writeln!(env, "{k}={v}");
    }
    fs::write(dir.join(".env"), env).unwrap();
    let mut cmd = compose_program(dir, None);
    cmd.arg("--project-directory").arg(dir);
    for f in files {
        cmd.arg("-f").arg(compose_dir().join(f));
    }
    cmd.arg("--env-file")
        .arg(dir.join(".env"))
        .arg("config")
        .output()
        .expect("run docker-compose config")
}

fn required_vars() -> BTreeMap<&'static str, String> {
    REQUIRED
        .iter()
        .map(|k| (*k, format!("value-of-{}", k.to_ascii_lowercase())))
        .collect()
}

fn env_of(service: &Value) -> BTreeMap<String, String> {
    service["environment"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => serde_yaml_ng::to_string(other).unwrap().trim().to_owned(),
                    };
                    (k.as_str().unwrap_or_default().to_owned(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| x.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_files_require_their_secrets_and_wire_the_stack_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let full = required_vars();

    // Every required variable, missing or empty, stops compose with a message naming it.
    for missing in REQUIRED {
        for empty in [false, true] {
            let mut vars = full.clone();
            if empty {
                vars.insert(missing, String::new());
            } else {
                vars.remove(missing);
            }
            let out = config(dir.path(), &["celery.yaml"], &vars);
            assert!(
                !out.status.success() && text(&out).contains(&format!("set {missing} in .env")),
                "without {missing} (empty: {empty}) compose must refuse: {}",
                text(&out)
            );
        }
    }

    // .env.example names every required variable and holds no value for them.
    let example = fs::read_to_string(compose_dir().join(".env.example")).unwrap();
    for var in REQUIRED {
        let line = example
            .lines()
            .find(|l| l.starts_with(&format!("{var}=")))
            .unwrap_or_else(|| panic!(".env.example has no `{var}=` line"));
        assert_eq!(
            line,
            format!("{var}="),
            ".env.example must not commit a value"
        );
    }
    let shipped: BTreeSet<&str> = example
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim_start_matches('#')))
        .collect();
    for file in ["celery.yaml", "kerberos.yaml"] {
        let yaml = fs::read_to_string(compose_dir().join(file)).unwrap();
        for (i, _) in yaml.match_indices("${") {
            let name: String = yaml[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                shipped.contains(name.as_str()),
                "{file} uses ${{{name}}}, which .env.example does not document"
            );
        }
    }

    let out = config(dir.path(), &["celery.yaml"], &full);
    assert!(out.status.success(), "{}", text(&out));
    let merged: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    let services = merged["services"].as_mapping().unwrap();
    let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
    let expected: BTreeSet<&str> = RUNNING
        .iter()
        .filter(|s| !["airflow-worker-2", "airflow-kerberos"].contains(*s))
        .chain(["airflow-init"].iter())
        .copied()
        .collect();
    assert_eq!(names, expected);

    for (name, svc) in services {
        let name = name.as_str().unwrap();
        assert!(
            svc.get("ports").is_none(),
            "{name}: celery.yaml publishes no ports (host networking excludes them)"
        );
        if !name.starts_with("airflow-") {
            continue;
        }
        let env = env_of(svc);
        assert_eq!(svc["user"].as_str(), Some("50000:0"), "{name}");
        assert_eq!(
            svc["image"].as_str(),
            Some("value-of-airflow_image"),
            "{name}"
        );
        assert_eq!(
            env.get("AIRFLOW__CORE__FERNET_KEY").map(String::as_str),
            Some("value-of-airflow_fernet_key"),
            "{name}"
        );
        assert_eq!(env["AIRFLOW__CORE__EXECUTOR"], "CeleryExecutor", "{name}");
        if name == "airflow-init" {
            assert!(!env.contains_key("HANGAR_WAIT_FOR_MIGRATIONS"), "{name}");
            assert_eq!(env["_AIRFLOW_DB_MIGRATE"], "true");
            assert_eq!(env["_AIRFLOW_WWW_USER_CREATE"], "true");
            assert_eq!(env["_AIRFLOW_WWW_USER_USERNAME"], "admin");
            assert_eq!(
                env["_AIRFLOW_WWW_USER_PASSWORD"],
                "value-of-_airflow_www_user_password"
            );
            assert!(svc.get("command").is_none(), "init runs no command");
            assert_eq!(svc["restart"].as_str(), Some("no"));
            continue;
        }
        assert_eq!(
            env.get("HANGAR_WAIT_FOR_MIGRATIONS").map(String::as_str),
            Some("true"),
            "{name}"
        );
        let test = strings(&svc["healthcheck"]["test"]);
        let hangar = test.iter().position(|w| w == "hangar");
        assert!(
            test.first().map(String::as_str) == Some("CMD") && hangar.is_some(),
            "{name}: the health check runs hangar: {test:?}"
        );
        assert!(
            !test
                .iter()
                .any(|w| w.contains("python") || w.contains("airflow") || w.contains("celery")),
            "{name}: no Python in the health check: {test:?}"
        );
        if name == "airflow-worker" {
            assert_eq!(env["DUMB_INIT_SETSID"], "0");
            assert_eq!(svc["stop_grace_period"].as_str(), Some("1h"));
            assert!(
                svc.get("depends_on").is_none(),
                "extendable under compose v1"
            );
        } else {
            assert_eq!(
                svc["depends_on"]["airflow-init"]["condition"].as_str(),
                Some("service_completed_successfully"),
                "{name}"
            );
        }
    }
    assert_eq!(
        strings(&services["airflow-flower"]["profiles"]),
        ["flower"],
        "Flower is optional"
    );

    // ports.yaml publishes on the host's loopback by default.
    let out = config(dir.path(), &["celery.yaml", "ports.yaml"], &full);
    assert!(out.status.success(), "{}", text(&out));
    let merged: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    let api_ports =
        serde_yaml_ng::to_string(&merged["services"]["airflow-api-server"]["ports"]).unwrap();
    assert!(api_ports.contains("127.0.0.1"), "{api_ports}");

    // RabbitMQ: the broker URL from the BROKER_* values, Redis moved to a profile.
    let mut rabbit = full.clone();
    for (k, v) in [
        ("BROKER_SCHEME", "amqp"),
        ("BROKER_USER", "airflow"),
        ("BROKER_HOST", "rabbitmq"),
        ("BROKER_PORT", "5672"),
        ("BROKER_PATH", ""),
    ] {
        rabbit.insert(k, v.to_owned());
    }
    let out = config(dir.path(), &["celery.yaml", "rabbitmq.yaml"], &rabbit);
    assert!(out.status.success(), "{}", text(&out));
    let merged: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    assert_eq!(
        env_of(&merged["services"]["airflow-worker"])["AIRFLOW__CELERY__BROKER_URL"],
        "amqp://airflow:value-of-broker_password@rabbitmq:5672/"
    );
    assert_eq!(strings(&merged["services"]["redis"]["profiles"]), ["redis"]);
    assert_eq!(
        env_of(&merged["services"]["rabbitmq"])["RABBITMQ_DEFAULT_PASS"],
        "value-of-broker_password"
    );

    // Kerberos: its own required values; the keytab only in the refresher; the worker reads
    // the cache read-only, consumes the `kerberos` queue and waits for the refresher.
    let mut krb = full.clone();
    for (k, v) in [
        ("KERBEROS_SIDECAR_IMAGE", "sidecar:1"),
        ("KERBEROS_PRINCIPAL", "airflow/w@EXAMPLE.TEST"),
    ] {
        let mut without = krb.clone();
        without.remove(k);
        let out = config(dir.path(), &["celery.yaml", "kerberos.yaml"], &without);
        assert!(
            !out.status.success() && text(&out).contains(&format!("set {k} in .env")),
            "kerberos.yaml requires {k}: {}",
            text(&out)
        );
        krb.insert(k, v.to_owned());
    }
    let out = config(dir.path(), &["celery.yaml", "kerberos.yaml"], &krb);
    assert!(out.status.success(), "{}", text(&out));
    let merged: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    for (name, svc) in merged["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let secrets = serde_yaml_ng::to_string(&svc["secrets"]).unwrap();
        assert_eq!(
            secrets.contains("airflow-keytab"),
            name == "airflow-kerberos",
            "{name}: only the refresher has the keytab: {secrets}"
        );
    }
    let worker = &merged["services"]["airflow-worker"];
    let volumes = serde_yaml_ng::to_string(&worker["volumes"]).unwrap();
    // `config` prints the short syntax: SOURCE:TARGET:MODE.
    let ccache: Vec<String> = strings(&worker["volumes"])
        .into_iter()
        .filter(|v| v.contains(":/var/kerberos-ccache"))
        .collect();
    assert!(
        ccache.len() == 1 && ccache[0].ends_with(":/var/kerberos-ccache:ro"),
        "the worker mounts the cache read-only: {volumes}"
    );
    assert_eq!(
        env_of(worker)["KRB5CCNAME"],
        "FILE:/var/kerberos-ccache/cache"
    );
    assert!(
        strings(&worker["command"]).contains(&"default,kerberos".to_owned()),
        "{:?}",
        worker["command"]
    );
    assert_eq!(
        worker["depends_on"]["airflow-kerberos"]["condition"].as_str(),
        Some("service_healthy")
    );
    let refresher = &merged["services"]["airflow-kerberos"];
    assert_eq!(
        strings(&refresher["healthcheck"]["test"]),
        [
            "CMD",
            "hangar",
            "kerberos",
            "check",
            "--min-remaining",
            "60"
        ]
    );

    // Airflow 2: the webserver and its health check.
    let out = config(dir.path(), &["celery.yaml", "airflow2.yaml"], &full);
    assert!(out.status.success(), "{}", text(&out));
    let merged: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    let api = &merged["services"]["airflow-api-server"];
    assert_eq!(strings(&api["command"]), ["webserver"]);
    assert_eq!(
        strings(&api["healthcheck"]["test"]),
        ["CMD", "hangar", "health", "webserver"]
    );
    assert_eq!(
        env_of(api)["AIRFLOW__WEBSERVER__SECRET_KEY"],
        "value-of-airflow_api_secret_key"
    );
}

// ---------------------------------------------------------------------------------------------
// Images

/// A constraints file for the image: `apache-airflow[postgres,celery,redis]==3.3.2` resolved on
/// this host's Python with Celery below 5.7, frozen, cached under the test cache.
/// `hangar_testkit::images::constraints_file` resolves Celery 5.7.0, whose
/// `celery.backends.database` no longer has `retry`, which the Celery provider 3.26.0 (pinned
/// by Airflow 3.3.2) imports: every Celery component would fail at start.
fn constraints(version: &str) -> PathBuf {
    let dir = cache_dir("compose-constraints");
    let file = dir.join(format!(
        "constraints-{version}-postgres_celery_redis-celery56.txt"
    ));
    if file.is_file() {
        return file;
    }
    let venv = tempfile::Builder::new()
        .prefix("venv-")
        .tempdir_in(&dir)
        .unwrap();
    hangar_testkit::run_checked(
        "python3 -m venv",
        Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(venv.path()),
    );
    let pip = venv.path().join("bin/pip");
    hangar_testkit::run_checked(
        "pip install of Airflow into a host venv (needs PyPI)",
        Command::new(&pip)
            .args(["install", "-q", "--disable-pip-version-check"])
            .arg(format!("apache-airflow[{EXTRAS}]=={version}"))
            .arg("celery<5.7"),
    );
    let frozen = hangar_testkit::run_checked(
        "pip freeze",
        Command::new(&pip).args(["freeze", "--exclude-editable"]),
    );
    let body: String = String::from_utf8_lossy(&frozen.stdout)
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("apache-airflow=="))
        .map(|l| format!("{l}\n"))
        .collect();
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, body).unwrap();
    fs::rename(&tmp, &file).unwrap();
    file
}

/// Builds the Airflow image with `hangar build --engine docker` and the PostgreSQL and Redis
/// images (at the same time: one is mostly downloads), in `daemon`.
fn build_images(daemon: &Dockerd, work: &Path) {
    std::thread::scope(|s| {
        let services = s.spawn(|| service_images::build(daemon, BASE_IMAGE));
        build_airflow(daemon, work, AIRFLOW_3, AIRFLOW_IMAGE);
        services.join().expect("the service images' build panicked");
    });
    build_sidecar(daemon, work);
}

/// Builds Airflow `version` as `tag` with `hangar build --engine docker`.
fn build_airflow(daemon: &Dockerd, work: &Path, version: &str, tag: &str) {
    let constraints = constraints(version);
    let mut args = hangar_base_args(Path::new(HOST_CA_BUNDLE));
    args.extend(
        [
            "--install-airflow-version",
            version,
            "--extras",
            EXTRAS,
            "--disable-mysql-client-installation",
            // `klist`, for the Kerberos worker's task.
            "--additional-runtime-apt-deps",
            "krb5-user",
            "--constraints-location",
            constraints.to_str().unwrap(),
            "-t",
            tag,
            "--engine-arg=--network=host",
        ]
        .map(str::to_owned),
    );
    let out = docker_build(work, daemon)
        .args(["--engine", "docker"])
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hangar build of the Airflow {version} image failed:\n{}",
        text(&out)
    );
}

/// The Kerberos refresher's image, from deploy/sidecar/Dockerfile with a kerberos-only hangar,
/// on the test kit's Debian base.
fn build_sidecar(daemon: &Dockerd, work: &Path) {
    let ctx = work.join("sidecar-context");
    fs::create_dir_all(ctx.join("target/release")).unwrap();
    fs::copy(
        crate::kerberos::kerberos_only_binary(),
        ctx.join("target/release/hangar"),
    )
    .unwrap();
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/sidecar/Dockerfile");
    daemon.build_on(
        "the Kerberos sidecar image",
        BASE_IMAGE,
        &[
            "--target",
            "kerberos-sidecar",
            "-t",
            SIDECAR_IMAGE,
            "-f",
            dockerfile.to_str().unwrap(),
        ],
        &ctx,
    );
}

/// The realm of the Kerberos worker: the test kit's MIT KDC on 127.0.0.1, the worker's
/// principal and its keytab (owned by the stack's UID, as kerberos.yaml asks).
struct Realm {
    kdc: Kdc,
    principal: String,
    keytab: PathBuf,
}

impl Realm {
    fn new(dir: &Path) -> Realm {
        let kdc = Kdc::start();
        let principal = kdc.add_principal(&format!("airflow/{}", WORKERS[0].1), "10m", "1h");
        let keytab = dir.join("airflow.keytab");
        kdc.export_keytab(&principal, &keytab);
        let uid: u32 = AIRFLOW_UID.parse().unwrap();
        std::os::unix::fs::chown(&keytab, Some(uid), Some(0)).unwrap();
        fs::set_permissions(&keytab, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        Realm {
            kdc,
            principal,
            keytab,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stack

/// A compose project of the shipped Celery stack with the test's override; `down -v` on drop
/// (after printing the logs when the test is failing).
struct Stack<'d> {
    daemon: &'d Dockerd,
    dir: tempfile::TempDir,
    project: String,
    vars: BTreeMap<&'static str, String>,
    worker_log_ports: [u16; 2],
    /// The shipped override files on top of celery.yaml, in order.
    overrides: Vec<&'static str>,
}

/// Which of the shipped stacks a [`Stack`] runs.
struct Variant<'a> {
    /// The Airflow image.
    image: &'a str,
    /// Airflow 2: `airflow2.yaml` and the FAB auth manager (Airflow 3: simple auth manager).
    airflow2: bool,
    /// `rabbitmq.yaml`: RabbitMQ instead of Redis.
    rabbitmq: bool,
    /// `kerberos.yaml` with this realm.
    kerberos: Option<&'a Realm>,
    /// The DAG file.
    dags: &'a str,
}

const SIMPLE_AUTH_MANAGER: &str =
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager";

/// The test override's `rabbitmq` service: host networking, everything on loopback.
fn rabbitmq_override() -> String {
    format!(
        r#"  rabbitmq:
    <<: *host
    environment:
      # Loopback only: the AMQP listener, epmd and Erlang distribution.
      RABBITMQ_NODE_IP_ADDRESS: 127.0.0.1
      ERL_EPMD_PORT: "{epmd_port}"
      RABBITMQ_DIST_PORT: "{dist_port}"
    healthcheck:
      # The AMQP port accepts connections (rabbitmq-diagnostics would start an Erlang node
      # that listens on every address).
      test: ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${{BROKER_PORT}}"]
"#,
        epmd_port = free_port(),
        dist_port = free_port(),
    )
}

impl<'d> Stack<'d> {
    fn new(daemon: &'d Dockerd, variant: &Variant<'_>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("hangar-compose-")
            .tempdir()
            .unwrap();
        for sub in ["dags", "plugins", "home"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        fs::write(dir.path().join("dags/compose_e2e.py"), variant.dags).unwrap();
        let port = || free_port().to_string();
        let mut vars: BTreeMap<&'static str, String> = BTreeMap::new();
        for (k, v) in [
            ("AIRFLOW_IMAGE", variant.image.to_owned()),
            ("POSTGRES_IMAGE", POSTGRES_IMAGE.to_owned()),
            ("REDIS_IMAGE", REDIS_IMAGE.to_owned()),
            ("AIRFLOW_UID", AIRFLOW_UID.to_owned()),
            ("AIRFLOW_PROJ_DIR", dir.path().display().to_string()),
            ("POSTGRES_PASSWORD", hex(&random_bytes(16))),
            ("BROKER_PASSWORD", hex(&random_bytes(16))),
            ("AIRFLOW_FERNET_KEY", base64_url(&random_bytes(32))),
            ("AIRFLOW_API_SECRET_KEY", hex(&random_bytes(32))),
            ("AIRFLOW_JWT_SECRET", hex(&random_bytes(32))),
            ("_AIRFLOW_WWW_USER_PASSWORD", hex(&random_bytes(8))),
            ("AIRFLOW_API_HOST", "127.0.0.1".to_owned()),
            ("AIRFLOW_API_SERVER_HOST", "127.0.0.1".to_owned()),
            ("AIRFLOW_API_PORT", port()),
            ("POSTGRES_HOST", "127.0.0.1".to_owned()),
            ("POSTGRES_PORT", port()),
            ("POSTGRES_LISTEN_ADDRESSES", "127.0.0.1".to_owned()),
            ("BROKER_HOST", "127.0.0.1".to_owned()),
            ("BROKER_PORT", port()),
            ("REDIS_BIND", "127.0.0.1".to_owned()),
            ("AIRFLOW_TRIGGER_LOG_SERVER_PORT", port()),
            ("AIRFLOW_WORKER_LOG_SERVER_PORT", port()),
            ("AIRFLOW_WORKER_NAME", "celery-1@%h".to_owned()),
            ("FLOWER_HOST", "127.0.0.1".to_owned()),
            ("FLOWER_PORT", port()),
            (
                "AIRFLOW_WORKER_STOP_GRACE_PERIOD",
                format!("{WORKER_GRACE}s"),
            ),
            ("HEALTHCHECK_INTERVAL", "2s".to_owned()),
        ] {
            vars.insert(k, v);
        }
        let mut overrides = Vec::new();
        if variant.airflow2 {
            overrides.push("airflow2.yaml");
        } else {
            vars.insert("AIRFLOW_AUTH_MANAGER", SIMPLE_AUTH_MANAGER.to_owned());
        }
        if variant.rabbitmq {
            overrides.push("rabbitmq.yaml");
            for (k, v) in [
                ("RABBITMQ_IMAGE", RABBITMQ_IMAGE),
                ("BROKER_SCHEME", "amqp"),
                ("BROKER_USER", "airflow"),
                ("BROKER_PATH", ""),
            ] {
                vars.insert(k, v.to_owned());
            }
        }
        if let Some(realm) = variant.kerberos {
            overrides.push("kerberos.yaml");
            for (k, v) in [
                ("KERBEROS_SIDECAR_IMAGE", SIDECAR_IMAGE.to_owned()),
                ("KERBEROS_PRINCIPAL", realm.principal.clone()),
                ("KRB5_CONF", realm.kdc.krb5_config().display().to_string()),
                ("KERBEROS_KEYTAB", realm.keytab.display().to_string()),
            ] {
                vars.insert(k, v);
            }
        }
        let worker2_port = free_port();
        let worker_log_ports = [
            vars["AIRFLOW_WORKER_LOG_SERVER_PORT"].parse().unwrap(),
            worker2_port,
        ];
        let override_yaml = format!(
            r#"# Written by hangar's compose test: every service on the host's network (127.0.0.1,
# free ports from .env), a second worker, fast health checks.
x-host: &host
  network_mode: host
services:
  postgres: *host
  redis: *host
  airflow-init: *host
  airflow-api-server:
    <<: *host
    environment:
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS: "true"
  airflow-scheduler:
    <<: *host
    environment:
      AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD: "{SCHEDULER_THRESHOLD}"
  airflow-dag-processor: *host
  airflow-triggerer: *host
  airflow-flower: *host
{kerberos}{rabbitmq}  airflow-worker:
    <<: *host
    hostname: {h1}
    environment:
      AIRFLOW__CELERY__WORKER_CONCURRENCY: "1"
  airflow-worker-2:
    extends:
      file: {celery}
      service: airflow-worker
    network_mode: host
    hostname: {h2}
    command: ["celery", "worker", "--celery-hostname", "celery-2@%h"]
    environment:
      AIRFLOW__CELERY__WORKER_CONCURRENCY: "1"
      AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT: "{worker2_port}"
    healthcheck:
      test: ["CMD", "env", "CONNECTION_CHECK_MAX_COUNT=1", "CONNECTION_CHECK_SLEEP_TIME=5", "hangar", "wait", "tcp://127.0.0.1:{worker2_port}"]
"#,
            h1 = WORKERS[0].1,
            h2 = WORKERS[1].1,
            kerberos = if variant.kerberos.is_some() {
                "  airflow-kerberos: *host\n"
            } else {
                ""
            },
            rabbitmq = if variant.rabbitmq {
                rabbitmq_override()
            } else {
                String::new()
            },
            celery = compose_dir().join("celery.yaml").display(),
        );
        fs::write(dir.path().join("host-network.yaml"), override_yaml).unwrap();
        let project = format!("hangar-e2e-{}", std::process::id());
        let stack = Stack {
            daemon,
            dir,
            project,
            vars,
            worker_log_ports,
            overrides,
        };
        stack.write_env();
        stack
    }

    /// The stack's variables as its `.env`.
    fn write_env(&self) {
        let mut env = String::new();
        for (k, v) in &self.vars {
            let _ = writeln!(env, "{k}={v}");
        }
        fs::write(self.dir.path().join(".env"), env).unwrap();
    }

    /// From Airflow 2 to the Airflow 3 image `image`, as an operator upgrades: the new image,
    /// no `airflow2.yaml`, the auth manager of an image without FAB. `up -d` then applies it.
    fn upgrade_to_airflow3(&mut self, image: &str) {
        self.vars.insert("AIRFLOW_IMAGE", image.to_owned());
        self.vars
            .insert("AIRFLOW_AUTH_MANAGER", SIMPLE_AUTH_MANAGER.to_owned());
        self.overrides.retain(|f| *f != "airflow2.yaml");
        self.write_env();
    }

    /// The services of this variant that keep running.
    fn running(&self) -> Vec<&'static str> {
        RUNNING
            .iter()
            .copied()
            .filter(|s| *s != "airflow-kerberos" || self.overrides.contains(&"kerberos.yaml"))
            .chain(
                self.overrides
                    .contains(&"rabbitmq.yaml")
                    .then_some("rabbitmq"),
            )
            .filter(|s| *s != "redis" || !self.overrides.contains(&"rabbitmq.yaml"))
            .collect()
    }

    fn var(&self, name: &str) -> &str {
        &self.vars[name]
    }

    fn compose(&self) -> Command {
        let mut cmd = compose_program(&self.dir.path().join("home"), Some(self.daemon.host()));
        cmd.args(["--project-name", &self.project, "--profile", "flower"])
            .arg("--project-directory")
            .arg(self.dir.path())
            .arg("-f")
            .arg(compose_dir().join("celery.yaml"));
        for file in &self.overrides {
            cmd.arg("-f").arg(compose_dir().join(file));
        }
        cmd.arg("-f")
            .arg(self.dir.path().join("host-network.yaml"))
            .arg("--env-file")
            .arg(self.dir.path().join(".env"));
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.compose()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker-compose {args:?}: {e}"))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker-compose {} failed ({}):\n{}",
            args.join(" "),
            out.status,
            text(&out)
        );
        stdout(&out)
    }

    /// The service's log, every run of its container (`docker logs`: much faster than
    /// `docker-compose logs`, which polls call often).
    fn logs(&self, service: &str) -> String {
        text(&self.daemon.docker(&["logs", &self.container(service)]))
    }

    /// The service's container, found by compose's labels (one `docker ps`).
    fn container(&self, service: &str) -> String {
        let id = self.daemon.docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ]);
        assert!(
            !id.is_empty() && !id.contains('\n'),
            "{service} has one container: {id:?}"
        );
        id
    }

    /// `docker inspect --format FORMAT` of the service's container.
    fn inspect(&self, service: &str, format: &str) -> String {
        self.daemon
            .docker_ok(&["inspect", "--format", format, &self.container(service)])
    }

    /// `running healthy`, `running starting`, `exited 0`…
    fn state(&self, service: &str) -> String {
        self.inspect(
            service,
            "{{.State.Status}} {{if eq .State.Status \"running\"}}{{if .State.Health}}{{.State.Health.Status}}{{end}}{{else}}{{.State.ExitCode}}{{end}}",
        )
    }

    fn wait_healthy(&self, services: &[&str], limit: Duration) {
        wait_for(
            "every service healthy",
            limit,
            Duration::from_millis(1000),
            || {
                let states: Vec<String> = services
                    .iter()
                    .map(|s| format!("{s}: {}", self.state(s)))
                    .collect();
                if states.iter().all(|s| s.ends_with("running healthy")) {
                    Ok(())
                } else {
                    Err(states.join(", "))
                }
            },
        );
    }

    /// One SQL query on the metadata database with the host's psql; `Err` when it cannot run.
    fn sql(&self, query: &str) -> Result<String, String> {
        let psql = require_program("psql", "postgresql-client", &[]);
        let out = Command::new(psql)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", self.var("POSTGRES_PORT")])
            .args(["-U", "airflow", "-d", "airflow", "-c", query])
            .env("PGPASSWORD", self.var("POSTGRES_PASSWORD"))
            .env("PGCONNECT_TIMEOUT", "3")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(stdout(&out))
        } else {
            Err(text(&out))
        }
    }

    fn trigger(&self, dag: &str, run_id: &str) {
        self.ok(&[
            "exec",
            "-T",
            "airflow-scheduler",
            "airflow",
            "dags",
            "trigger",
            dag,
            "--run-id",
            run_id,
        ]);
    }

    /// Waits until the run ends; panics with its tasks when it fails.
    fn wait_run_success(&self, run_id: &str, limit: Duration) {
        let tasks = || {
            self.sql(&format!(
                "select task_id, state, try_number, hostname from task_instance \
                 where run_id = '{run_id}' order by task_id"
            ))
            .unwrap_or_else(|e| e)
        };
        wait_for(
            &format!("run {run_id} succeeds"),
            limit,
            Duration::from_secs(1),
            || match self
                .sql(&format!(
                    "select state from dag_run where run_id = '{run_id}'"
                ))
                .as_deref()
            {
                Ok("success") => Ok(()),
                Ok("failed") => panic!("run {run_id} failed; its tasks:\n{}", tasks()),
                Ok(other) => Err(format!("run state {other:?}; tasks:\n{}", tasks())),
                Err(e) => Err(e.to_owned()),
            },
        );
    }

    /// Waits until the run's only task runs on a worker; returns the worker's hostname.
    fn wait_task_running(&self, run_id: &str) -> String {
        wait_for(
            &format!("the task of {run_id} runs"),
            Duration::from_secs(90),
            Duration::from_millis(500),
            || match self.sql(&format!(
                "select state, coalesce(hostname, '') from task_instance where run_id = '{run_id}'"
            )) {
                Ok(row) => match row.split_once('|') {
                    Some(("running", host)) if !host.is_empty() => Ok(host.to_owned()),
                    _ => Err(row),
                },
                Err(e) => Err(e),
            },
        )
    }

    /// `hangar health scheduler` of this repository's build, on the host, against the stack's
    /// database and threshold.
    fn host_scheduler_health(&self) -> Output {
        Command::new(HANGAR)
            .args(["health", "scheduler"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AIRFLOW_HOME", self.dir.path().join("home"))
            .env(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                format!(
                    "postgresql+psycopg2://airflow:{}@127.0.0.1:{}/airflow",
                    self.var("POSTGRES_PASSWORD"),
                    self.var("POSTGRES_PORT")
                ),
            )
            .env(
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD",
                SCHEDULER_THRESHOLD.to_string(),
            )
            .stdin(Stdio::null())
            .output()
            .expect("run hangar health")
    }

    /// The addresses listening on `port` (`ss -ltnH`).
    fn listeners(port: &str) -> Vec<String> {
        let ss = require_program(
            "ss",
            "iproute2",
            &["/usr/sbin", "/sbin", "/usr/bin", "/bin"],
        );
        let out = Command::new(ss)
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
            .expect("run ss");
        stdout(&out)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3).map(str::to_owned))
            .collect()
    }
}

impl Drop for Stack<'_> {
    // Outside a #[test] function: the logs of a failing run are its diagnosis.
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        if std::thread::panicking() {
            let out = self.run(&["ps"]);
            eprintln!("---- docker-compose ps:\n{}", text(&out));
            let out = self.run(&["logs", "--no-color", "--tail", "150"]);
            eprintln!(
                "---- docker-compose logs (last 150 lines per service):\n{}",
                text(&out)
            );
            eprintln!("---- project directory: {}", self.dir.path().display());
        }
        let out = self.run(&["down", "-v", "--remove-orphans", "--timeout", "10"]);
        if !out.status.success() {
            eprintln!("docker-compose down failed: {}", text(&out));
        }
    }
}

/// Where the test keeps what a person may want to look at: `target/test-artefacts/…`.
fn artefact_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("test-artefacts/deploy-compose");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium on `url`: the DOM after scripts ran (`--dump-dom`) or a screenshot.
fn chromium(profile: &Path, url: &str, mode: &str) -> Output {
    let program = require_program("chromium", "chromium", &[]);
    Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--window-size=1400,1000",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

/// The text of the element whose `data-testid` is `id` (tags stripped), up to `len` bytes of
/// markup after it.
fn testid_text(dom: &str, id: &str, len: usize) -> Option<String> {
    let start = dom.find(&format!("data-testid=\"{id}\""))?;
    let mut end = (start + len).min(dom.len());
    while !dom.is_char_boundary(end) {
        end -= 1;
    }
    let markup = &dom[start..end];
    let mut out = String::new();
    let mut in_tag = true; // the match is inside the opening tag
    for c in markup.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[test]
fn celery_stack_runs_end_to_end_on_two_workers() {
    let started = Instant::now();
    let step = |n: &str| {
        eprintln!(
            "deploy_compose: {n} ({:.0?} since start)",
            started.elapsed()
        )
    };
    let _lock = build_lock();
    ensure_base_image();
    let daemon = Dockerd::start();
    daemon.load_from_buildah(BASE_IMAGE);
    let work = tempfile::tempdir().unwrap();
    build_images(&daemon, work.path());
    step("images built");

    // 1. Up: init migrates and exits 0, everything turns healthy.
    let realm = Realm::new(work.path());
    let stack = Stack::new(
        &daemon,
        &Variant {
            image: AIRFLOW_IMAGE,
            airflow2: false,
            rabbitmq: false,
            kerberos: Some(&realm),
            dags: DAGS,
        },
    );
    stack.ok(&["up", "-d"]);
    assert_eq!(
        stack.state("airflow-init"),
        "exited 0",
        "the init service: {}",
        stack.logs("airflow-init")
    );
    let init = stack.logs("airflow-init");
    assert!(init.contains("Database migration done"), "{init}");
    stack.wait_healthy(&stack.running(), Duration::from_secs(180));
    step("1. stack up and healthy");
    let networks = daemon.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(
        networks.lines().collect::<BTreeSet<_>>(),
        BTreeSet::from(["host", "none"]),
        "no network of compose's own: every service is on the host's"
    );
    for var in [
        "AIRFLOW_API_PORT",
        "POSTGRES_PORT",
        "BROKER_PORT",
        "FLOWER_PORT",
    ] {
        let on = Stack::listeners(stack.var(var));
        assert!(
            !on.is_empty() && on.iter().all(|a| a.starts_with("127.0.0.1:")),
            "{var} is served on 127.0.0.1 only: {on:?}"
        );
    }
    // Airflow's log servers bind the wildcard address (not configurable in 3.3.2); they serve
    // on the ports given to each worker.
    for port in stack.worker_log_ports {
        assert!(
            !Stack::listeners(&port.to_string()).is_empty(),
            "a worker's log server listens on {port}"
        );
    }
    // The components run as the arbitrary UID with GID 0.
    let id = stack.ok(&["exec", "-T", "airflow-worker", "id"]);
    assert!(
        id.starts_with(&format!("uid={AIRFLOW_UID}(default) gid=0(root)")),
        "{id}"
    );
    // The second worker has no depends_on: its entrypoint waited for the migration itself.
    let worker2 = stack.logs("airflow-worker-2");
    assert!(
        worker2
            .lines()
            .any(|l| l.contains("hangar:") && l.contains("migration")),
        "the worker's entrypoint reports its migration wait: {worker2}"
    );

    // 2. A DAG run on both workers.
    wait_for(
        "the DAGs are parsed and unpaused",
        Duration::from_secs(120),
        Duration::from_secs(1),
        || match stack.sql(
            "select count(*) from dag where dag_id in ('compose_parallel', 'compose_long') \
             and not is_paused",
        ) {
            Ok(n) if n == "2" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    for (service, _, node) in WORKERS {
        wait_for(
            &format!("{node} consumes"),
            Duration::from_secs(60),
            Duration::from_secs(1),
            || {
                let logs = stack.logs(service);
                if logs.contains(&format!("{node} ready.")) {
                    Ok(())
                } else {
                    Err(logs.lines().rev().take(5).collect::<Vec<_>>().join("\n"))
                }
            },
        );
    }
    stack.trigger("compose_parallel", "parallel-1");
    stack.wait_run_success("parallel-1", Duration::from_secs(150));
    let rows = stack
        .sql(
            "select task_id, state, hostname from task_instance \
             where run_id = 'parallel-1' order by task_id",
        )
        .unwrap();
    let hosts: BTreeSet<&str> = rows
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f.len() == 3 && f[1] == "success").then_some(f[2])
        })
        .collect();
    assert_eq!(rows.lines().count(), 4, "{rows}");
    assert_eq!(
        hosts,
        BTreeSet::from([WORKERS[0].1, WORKERS[1].1]),
        "both workers ran tasks: {rows}"
    );
    step("2. parallel run succeeded on both workers");

    // 2b. Kerberos: a task on the Kerberos worker has a valid ticket from the refresher's
    // cache; only the refresher's container has the keytab.
    stack.trigger("compose_kerberos", "kerberos-1");
    stack.wait_run_success("kerberos-1", Duration::from_secs(120));
    let ran_on = stack
        .sql("select hostname from task_instance where run_id = 'kerberos-1'")
        .unwrap();
    assert_eq!(ran_on, WORKERS[0].1, "the kerberos queue's worker ran it");
    let keytab = realm.keytab.display().to_string();
    let mounts = |service: &str| stack.inspect(service, "{{range .Mounts}}{{.Source}} {{end}}");
    assert!(
        mounts("airflow-kerberos").contains(&keytab),
        "the refresher mounts the keytab: {}",
        mounts("airflow-kerberos")
    );
    for service in COMPONENTS {
        let m = mounts(service);
        assert!(!m.contains(&keytab), "{service} mounts the keytab: {m}");
    }
    let probe = stack.run(&[
        "exec",
        "-T",
        "airflow-worker",
        "bash",
        "-c",
        "klist -s && ! ls /run/secrets/airflow-keytab 2>/dev/null && klist",
    ]);
    assert!(
        probe.status.success(),
        "the worker's ticket: {}",
        text(&probe)
    );
    assert!(
        stdout(&probe).contains(&realm.principal),
        "the worker's cache holds the principal's ticket: {}",
        text(&probe)
    );
    step("2b. a task on the Kerberos worker saw a valid ticket, no keytab");

    // 3. Warm shutdown: the stopped worker finishes its task first.
    stack.trigger("compose_long", "warm-1");
    let host = stack.wait_task_running("warm-1");
    let (service, _, node) = WORKERS
        .iter()
        .copied()
        .find(|(_, h, _)| *h == host)
        .unwrap_or_else(|| panic!("the task runs on an unknown host {host}"));
    let stop = Instant::now();
    stack.ok(&["stop", service]);
    let stopped_after = stop.elapsed();
    assert_eq!(
        stack.state(service),
        "exited 0",
        "{service} exits 0 after its warm shutdown"
    );
    assert!(
        stopped_after < Duration::from_secs(WORKER_GRACE),
        "{service} stopped within its grace period: {stopped_after:?}"
    );
    let logs = stack.logs(service);
    assert!(logs.contains("Warm shutdown"), "{node}: {logs}");
    assert_eq!(
        stack
            .sql("select state, try_number, hostname from task_instance where run_id = 'warm-1'")
            .unwrap(),
        format!("success|1|{host}"),
        "the task finished on the stopping worker, in its first try"
    );
    stack.wait_run_success("warm-1", Duration::from_secs(60));
    stack.ok(&["start", service]);
    stack.wait_healthy(&[service], Duration::from_secs(90));
    step(&format!(
        "3. warm shutdown of {service} took {stopped_after:.1?}"
    ));

    // 4. A killed scheduler is unhealthy within the threshold, healthy again once started.
    let out = stack.host_scheduler_health();
    assert!(out.status.success(), "before the kill: {}", text(&out));
    stack.ok(&["kill", "airflow-scheduler"]);
    let killed = Instant::now();
    let message = wait_for(
        "hangar health scheduler fails",
        Duration::from_secs(SCHEDULER_THRESHOLD + 10),
        Duration::from_millis(500),
        || {
            let out = stack.host_scheduler_health();
            if out.status.success() {
                Err(text(&out))
            } else {
                Ok(text(&out))
            }
        },
    );
    let noticed = killed.elapsed();
    assert!(
        noticed <= Duration::from_secs(SCHEDULER_THRESHOLD + 3),
        "unhealthy {noticed:?} after the kill (threshold {SCHEDULER_THRESHOLD} s): {message}"
    );
    assert!(message.contains("not alive"), "{message}");
    let inside = stack.run(&[
        "exec",
        "-T",
        "-e",
        &format!("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD={SCHEDULER_THRESHOLD}"),
        "airflow-api-server",
        "hangar",
        "health",
        "scheduler",
    ]);
    assert_eq!(
        inside.status.code(),
        Some(1),
        "in another container: {}",
        text(&inside)
    );
    stack.ok(&["start", "airflow-scheduler"]);
    stack.wait_healthy(&["airflow-scheduler"], Duration::from_secs(90));
    let out = stack.host_scheduler_health();
    assert!(out.status.success(), "after the start: {}", text(&out));
    step(&format!(
        "4. killed scheduler unhealthy after {noticed:.1?}, healthy again"
    ));

    // 5. PostgreSQL stopped while a task runs, then started again.
    // How often the components' entrypoints have started waiting for the database so far.
    let db_waits = || -> usize {
        COMPONENTS
            .iter()
            .map(|s| {
                stack
                    .logs(s)
                    .matches("hangar: waiting for the metadata database")
                    .count()
            })
            .sum()
    };
    let waits_before = db_waits();
    stack.trigger("compose_long", "outage-1");
    stack.wait_task_running("outage-1");
    let outage = Instant::now();
    stack.ok(&["stop", "postgres"]);
    assert!(stack.sql("select 1").is_err(), "PostgreSQL is down");
    // Until a component exits and its restarted entrypoint waits for the database (the
    // scheduler does within seconds), but not longer than 30 s of outage.
    let noticed = wait_for(
        "the outage",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || {
            let waits = db_waits();
            if waits > waits_before {
                Ok("a component waits for the database")
            } else if outage.elapsed() > Duration::from_secs(30) {
                Ok("30 s of outage")
            } else {
                Err(format!("{waits} waits"))
            }
        },
    );
    stack.ok(&["start", "postgres"]);
    stack.wait_run_success("outage-1", Duration::from_secs(180));
    stack.wait_healthy(&stack.running(), Duration::from_secs(180));
    // A component that exits is started again by compose; its entrypoint then waits for the
    // database (silently when it is already back). At least one waited while it was down.
    let mut restarts = Vec::new();
    for service in COMPONENTS {
        let n: u32 = stack.inspect(service, "{{.RestartCount}}").parse().unwrap();
        restarts.push(format!("{service}: {n}"));
    }
    let waits_after = db_waits();
    assert!(
        restarts.iter().all(|r| r.ends_with(": 0")) || waits_after > waits_before,
        "components were restarted ({restarts:?}) but no entrypoint waited for the database"
    );
    step(&format!(
        "5. database outage survived ({noticed}); restarts: {}",
        restarts.join(", ")
    ));

    // 6. The UI shows the successful run.
    let profile = stack.dir.path().join("chromium");
    let url = format!(
        "http://127.0.0.1:{}/dags/compose_parallel/runs/parallel-1",
        stack.var("AIRFLOW_API_PORT")
    );
    let dom = wait_for(
        "the UI shows the run",
        Duration::from_secs(120),
        Duration::from_secs(2),
        || {
            let out = chromium(&profile, &url, "--dump-dom");
            let dom = String::from_utf8_lossy(&out.stdout).into_owned();
            match testid_text(&dom, "header-card", 4000) {
                Some(header) if header.starts_with("parallel-1 Success") => Ok(dom),
                other => Err(format!(
                    "header: {other:?}; page: {} bytes; chromium: {}",
                    dom.len(),
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .rev()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" / ")
                )),
            }
        },
    );
    let task_states = dom
        .split("data-testid=\"table-cell-state\"")
        .skip(1)
        .filter(|cell| {
            cell.split("</td>")
                .next()
                .is_some_and(|c| c.contains("Success"))
        })
        .count();
    assert_eq!(
        task_states, 4,
        "the four tasks show Success in the run's table"
    );
    let artefacts = artefact_dir();
    fs::write(artefacts.join("dag-run.html"), &dom).unwrap();
    let shot = artefacts.join("dag-run.png");
    let _ = fs::remove_file(&shot);
    let out = chromium(&profile, &url, &format!("--screenshot={}", shot.display()));
    let png = fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}): {}", text(&out)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot: {} bytes",
        png.len()
    );
    eprintln!("deploy_compose: screenshot of the run: {}", shot.display());
    step("6. the UI shows the run as successful");
    drop(stack);
    step("stack removed");

    airflow2_on_rabbitmq_then_upgraded(&daemon, work.path(), &step);
}

/// DAGs that parse on Airflow 2 and 3.
const PORTABLE_DAGS: &str = r#""""DAGs of hangar's compose upgrade test (Airflow 2 and 3)."""

import socket
from datetime import datetime

try:
    from airflow.sdk import dag, task
except ImportError:
    from airflow.decorators import dag, task


@task
def hello() -> str:
    return socket.gethostname()


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False, is_paused_upon_creation=False)
def compose_portable():
    for i in range(2):
        hello.override(task_id=f"hello_{i}")()


compose_portable()
"#;

/// Step 7: Airflow 2.10 with RabbitMQ (`airflow2.yaml`, `rabbitmq.yaml`), a DAG run succeeds.
/// Step 8: the same stack (same database volume) moved to the Airflow 3 image; the worker,
/// which does not depend on the init service, waits because the database is behind its
/// Airflow; the init service migrates 2 → 3; everything turns healthy and a run succeeds.
fn airflow2_on_rabbitmq_then_upgraded(daemon: &Dockerd, work: &Path, step: &dyn Fn(&str)) {
    std::thread::scope(|s| {
        let rabbit = s.spawn(|| service_images::build_rabbitmq(daemon, BASE_IMAGE));
        build_airflow(daemon, work, AIRFLOW_2, AIRFLOW2_IMAGE);
        rabbit.join().expect("the RabbitMQ image's build panicked");
    });
    step("7. Airflow 2 and RabbitMQ images built");
    let mut stack = Stack::new(
        daemon,
        &Variant {
            image: AIRFLOW2_IMAGE,
            airflow2: true,
            rabbitmq: true,
            kerberos: None,
            dags: PORTABLE_DAGS,
        },
    );
    stack.ok(&["up", "-d"]);
    assert_eq!(
        stack.state("airflow-init"),
        "exited 0",
        "the init service: {}",
        stack.logs("airflow-init")
    );
    stack.wait_healthy(&stack.running(), Duration::from_secs(240));
    let version = stack.ok(&["exec", "-T", "airflow-scheduler", "airflow", "version"]);
    assert!(version.trim().ends_with(AIRFLOW_2), "{version}");
    let broker = Stack::listeners(stack.var("BROKER_PORT"));
    assert!(
        !broker.is_empty() && broker.iter().all(|a| a.starts_with("127.0.0.1:")),
        "RabbitMQ serves AMQP on 127.0.0.1 only: {broker:?}"
    );
    wait_for(
        "the DAG is parsed and unpaused",
        Duration::from_secs(120),
        Duration::from_secs(1),
        || match stack
            .sql("select count(*) from dag where dag_id = 'compose_portable' and not is_paused")
        {
            Ok(n) if n == "1" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    stack.trigger("compose_portable", "airflow2-1");
    stack.wait_run_success("airflow2-1", Duration::from_secs(180));
    step("7. a run succeeded on Airflow 2 with RabbitMQ");

    // The upgrade as documented: stop Airflow (the database and broker stay up), switch the
    // image, `up -d`. A migration while the old components still hold locks deadlocks.
    let mut stop = vec!["stop"];
    stop.extend(COMPONENTS);
    stack.ok(&stop);
    stack.upgrade_to_airflow3(AIRFLOW_IMAGE);
    stack.ok(&["up", "-d", "--remove-orphans"]);
    assert_eq!(
        stack.state("airflow-init"),
        "exited 0",
        "the init service migrated to Airflow 3: {}",
        stack.logs("airflow-init")
    );
    stack.wait_healthy(&stack.running(), Duration::from_secs(300));
    let worker = stack.logs("airflow-worker");
    assert!(
        worker
            .lines()
            .any(|l| l.contains("hangar:") && l.contains("behind Airflow")),
        "the upgraded worker waited for the migration: {worker}"
    );
    let version = stack.ok(&["exec", "-T", "airflow-scheduler", "airflow", "version"]);
    assert!(version.trim().ends_with(AIRFLOW_3), "{version}");
    stack.trigger("compose_portable", "airflow3-1");
    stack.wait_run_success("airflow3-1", Duration::from_secs(180));
    let runs = stack
        .sql("select run_id, state from dag_run where dag_id = 'compose_portable' order by run_id")
        .unwrap();
    assert_eq!(
        runs, "airflow2-1|success\nairflow3-1|success",
        "the Airflow 2 run survived the upgrade"
    );
    step("8. upgraded to Airflow 3: the worker waited for the migration, a run succeeded");
    drop(stack);
}
