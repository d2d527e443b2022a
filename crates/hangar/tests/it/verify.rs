//! `hangar verify` on real images: a hangar-built Airflow image passes every check with both
//! buildah and podman, and an image made from it with each part of the contract broken fails
//! each check by name. Called by the image-build tests, which own the good image.

use std::process::{Command, Output, Stdio};

use hangar_testkit::images::{self, ImageGuard, buildah, check, stdout_of};

use crate::image_checks::text;

/// Every check `hangar verify` reports, in its order.
const CHECKS: [&str; 8] = [
    "default-user",
    "arbitrary-uid",
    "entrypoint",
    "airflow-home",
    "airflow-version",
    "pip-check",
    "no-build-tools",
    "no-credentials",
];

/// The hangar binary under test set up for the test kit's store: podman with the test kit's
/// containers.conf, buildah with chroot isolation.
pub(crate) fn hangar_on_test_store() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hangar"));
    for (k, v) in images::podman().get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.env("BUILDAH_ISOLATION", "chroot")
        .env("CONTAINERS_STORAGE_CONF", images::storage_conf())
        .stdin(Stdio::null());
    c
}

/// `hangar verify --engine ENGINE [more…] IMAGE` on the test kit's store.
fn hangar_verify(engine: &str, more: &[&str], image: &str) -> Output {
    hangar_on_test_store()
        .args(["verify", "--engine", engine])
        .args(more)
        .arg(image)
        .output()
        .expect("run hangar verify")
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("hangar verify --json printed no JSON ({e}):\n{}", text(out)))
}

fn failed(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn detail<'a>(report: &'a serde_json::Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["detail"].as_str())
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

/// `good` (a hangar-built Airflow `version` image in the test kit's store) passes; an image made
/// from it with every part of the contract broken fails every check, each naming its cause.
pub(crate) fn assert_verify_good_and_bad(good: &str, version: &str) {
    let out = hangar_verify("buildah", &[], good);
    let table = text(&out);
    assert!(out.status.success(), "{table}");
    for id in CHECKS {
        assert!(table.contains(&format!("  pass  {id} ")), "{id}:\n{table}");
    }
    assert!(table.contains("all 8 checks passed"), "{table}");
    assert!(table.contains("layers ("), "{table}");

    let out = hangar_verify("podman", &["--json"], good);
    let r = report(&out);
    assert!(
        out.status.success() && r["passed"] == true,
        "{}",
        text(&out)
    );
    assert_eq!(detail(&r, "airflow-version"), version);
    let layers = r["layers"].as_array().unwrap();
    let hangar = std::fs::metadata(env!("CARGO_BIN_EXE_hangar"))
        .unwrap()
        .len();
    assert!(
        layers.len() >= 3 && r["size"].as_u64().unwrap() > 500_000_000,
        "{r}"
    );
    assert!(
        layers.iter().any(|l| {
            let size = l["size"].as_u64().unwrap();
            (hangar..hangar + 100_000).contains(&size)
        }),
        "no layer the size of hangar ({hangar} bytes): {r}"
    );

    let bad = format!("localhost/hangar-test-verify-bad:{}", std::process::id());
    let _bad = ImageGuard::new(&bad);
    make_bad_image(good, &bad);
    let out = hangar_verify("podman", &["--json"], &bad);
    let r = report(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(failed(&r), CHECKS, "{r}");
    for (id, cause) in [
        ("default-user", "USER \"0\": uid 0, gid 0"),
        ("arbitrary-uid", "cannot write to $AIRFLOW_HOME/logs"),
        ("entrypoint", "no ENTRYPOINT"),
        ("airflow-home", "/opt/airflow/logs has group 50000, not 0"),
        ("airflow-version", "`airflow version` failed"),
        ("pip-check", "hangar-verify-broken"),
        ("no-build-tools", "/usr/bin/gcc"),
        ("no-credentials", "/root/.pypirc"),
    ] {
        assert!(detail(&r, id).contains(cause), "{id}: {r}");
    }
    let creds = detail(&r, "no-credentials");
    assert!(
        creds.contains("/etc/pip.conf") && creds.contains("ENV PIP_INDEX_URL"),
        "{creds}"
    );
    assert!(
        !text(&out).contains("verify-token"),
        "the password was printed:\n{}",
        text(&out)
    );

    // The table names the same failures, and a missing image is its own error.
    let out = hangar_verify("buildah", &[], &bad);
    assert!(
        text(&out).contains("8 of 8 checks failed"),
        "{}",
        text(&out)
    );
    let out = hangar_verify("buildah", &[], "localhost/hangar-test-no-such-image:1");
    assert_eq!(out.status.code(), Some(66), "{}", text(&out));
    assert!(text(&out).contains("has no image localhost/hangar-test-no-such-image:1"));
}

/// `bad` from `good` with root as the user, no entrypoint, logs owned by another group and not
/// group-writable, `airflow` not executable, a broken requirement, a compiler, credential
/// files and a password in ENV.
fn make_bad_image(good: &str, bad: &str) {
    let ctr = stdout_of(
        buildah().args(["from", "--pull-never", "--quiet", good]),
        "buildah from the good image",
    );
    let script = r#"set -e
chgrp 50000 /opt/airflow/logs && chmod 755 /opt/airflow/logs
chmod 644 "$(command -v airflow)"
site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/hangar_verify_broken-1.0.dist-info"
printf 'Metadata-Version: 2.1\nName: hangar-verify-broken\nVersion: 1.0\nRequires-Dist: hangar-verify-missing>=1\n' \
  > "$site/hangar_verify_broken-1.0.dist-info/METADATA"
printf '#!/bin/sh\nexit 1\n' > /usr/bin/gcc && chmod 755 /usr/bin/gcc
printf '[pypi]\nusername = __token__\n' > /root/.pypirc
printf '[global]\ntimeout = 60\n' > /etc/pip.conf
"#;
    check(
        buildah().args([
            "run",
            "--isolation",
            "chroot",
            "--user",
            "0:0",
            &ctr,
            "--",
            "sh",
            "-c",
            script,
        ]),
        "break the image",
    );
    check(
        buildah().args([
            "config",
            "--user",
            "0",
            "--entrypoint",
            "[]",
            "--env",
            "PIP_INDEX_URL=https://me:verify-token@pypi.example.invalid/simple",
            &ctr,
        ]),
        "buildah config of the bad image",
    );
    check(
        buildah().args(["commit", "--rm", "--quiet", &ctr, bad]),
        "buildah commit of the bad image",
    );
}
