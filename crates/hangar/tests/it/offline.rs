//! The air-gapped journey: `hangar download` fills a folder (constraints, every wheel for
//! CPython 3.11 on manylinux, uv's own wheel, both stages' apt packages, SHA256SUMS), then
//! `hangar build` runs inside `unshare -n` (a network namespace with no interface at all) from
//! the base image already in local storage, and the image passes `hangar verify`. A tampered
//! file fails that build naming the file, and tags nothing.
//!
//! Needs what the image builds need (buildah, podman, debootstrap) and, for the download only,
//! PyPI (the host's pip: `apt-get install python3-pip`) and the Debian mirror.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use hangar_testkit::images::{
    self, BASE_IMAGE, BASE_PYTHON, ImageGuard, build_lock, constraints_file, ensure_base_image,
    image_exists, prune_dangling,
};

use crate::image_checks::{EXTRAS, text};
use crate::verify::hangar_on_test_store;

const AIRFLOW: &str = hangar_testkit::airflow::AIRFLOW_3;

fn download(out: &Path, constraints: &Path) -> Output {
    hangar_on_test_store()
        .args([
            "download",
            "--engine",
            "buildah",
            "--host-python",
            "/usr/bin/python3",
        ])
        .args([
            "--airflow-version",
            AIRFLOW,
            "--python",
            BASE_PYTHON,
            "--extras",
            EXTRAS,
        ])
        .arg("--constraints-location")
        .arg(constraints)
        .args([
            "--build-arg",
            "INSTALL_MYSQL_CLIENT=false",
            "--build-arg",
            "INSTALL_MSSQL_CLIENT=false",
            "--debs",
            "--python-base-image",
            BASE_IMAGE,
            "-o",
        ])
        .arg(out)
        .output()
        .expect("run hangar download")
}

/// `hangar build` of the downloaded folder with no network interface: `unshare -n`.
fn offline_build(folder: &Path, tag: &str) -> Output {
    let hangar = hangar_on_test_store();
    let mut c = Command::new("unshare");
    c.arg("-n").arg(hangar.get_program());
    for (k, v) in hangar.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.args(["build", "--engine", "buildah", "--progress", "plain"])
        .args(["--python", BASE_PYTHON, "--python-base-image", BASE_IMAGE])
        .args(["--install-airflow-version", AIRFLOW, "--extras", EXTRAS])
        .args(["--disable-mysql-client-installation"])
        .args(["--build-arg", "INSTALL_MSSQL_CLIENT=false"])
        .arg("--context-files")
        .arg(folder)
        .args([
            "--add-local-pip-wheels",
            "--engine-arg",
            "--no-cache",
            // The docker format's config names buildah's working container (a random ID).
            "--format",
            "oci",
            "-t",
            tag,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare -n hangar build")
}

/// The file names a `SHA256SUMS` lists.
fn files(manifest: &str) -> impl Iterator<Item = &str> {
    manifest
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(_, f)| f)
}

fn listed(manifest: &str, pred: impl Fn(&str) -> bool) -> usize {
    files(manifest).filter(|f| pred(f)).count()
}

#[test]
fn air_gapped_build_from_a_downloaded_folder_inside_unshare_n() {
    let _lock = build_lock();
    ensure_base_image();
    let constraints = constraints_file(AIRFLOW, EXTRAS);
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("docker-context-files");

    let start = Instant::now();
    let out = download(&folder, &constraints);
    let download_secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "hangar download failed:\n{}",
        text(&out)
    );
    eprintln!("hangar download: {download_secs:.0} s\n{}", text(&out));

    // The manifest lists everything, and sha256sum agrees with it.
    let manifest = std::fs::read_to_string(folder.join("SHA256SUMS")).unwrap();
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "--quiet", "SHA256SUMS"])
        .current_dir(&folder)
        .output()
        .unwrap();
    assert!(check.status.success(), "sha256sum -c:\n{}", text(&check));
    assert_eq!(
        listed(&manifest, |f| f == "constraints.txt"),
        1,
        "{manifest}"
    );
    assert_eq!(
        listed(&manifest, |f| f
            .starts_with(&format!("apache_airflow-{AIRFLOW}-"))),
        1,
        "{manifest}"
    );
    // The installer's own wheel (the build's pinned uv), once.
    assert_eq!(
        listed(&manifest, |f| f.starts_with("uv-") && f.ends_with(".whl")),
        1,
        "{manifest}"
    );
    let wheels = listed(&manifest, |f| f.ends_with(".whl"));
    assert!(wheels > 100, "{wheels} wheels:\n{manifest}");
    assert!(
        listed(&manifest, |f| f.starts_with("debs/dev/")
            && f.contains("gcc"))
            > 0,
        "{manifest}"
    );
    assert!(
        listed(&manifest, |f| f
            .starts_with("debs/runtime/postgresql-client"))
            > 0,
        "{manifest}"
    );
    assert_eq!(
        listed(&manifest, |f| f.starts_with("debs/runtime/")
            && f.contains("-dev_")),
        0,
        "no headers in the runtime packages:\n{manifest}"
    );
    // Every wheel is for CPython 3.11 or any Python, on manylinux or any platform.
    for f in files(&manifest) {
        if let Some(stem) = f.strip_suffix(".whl") {
            let tags: Vec<&str> = stem.rsplitn(4, '-').take(3).collect();
            let (platform, abi) = (tags[0], tags[1]);
            assert!(
                platform == "any" || platform.contains("manylinux"),
                "{f} is not for manylinux"
            );
            assert!(
                ["none", "abi3", "cp311"].contains(&abi),
                "{f} is not for CPython 3.11"
            );
        }
    }

    // A tampered file fails the offline build naming it, and tags nothing.
    let name = format!("localhost/hangar-test-offline:{}", std::process::id());
    let _image = ImageGuard::new(&name);
    let victim = files(&manifest)
        .find(|f| f.starts_with("celery-"))
        .expect("the celery wheel is listed")
        .to_owned();
    let original = std::fs::read(folder.join(&victim)).unwrap();
    let mut tampered = original.clone();
    tampered.extend_from_slice(b"tampered");
    std::fs::write(folder.join(&victim), &tampered).unwrap();
    let out = offline_build(&folder, &name);
    assert!(
        !out.status.success(),
        "a tampered folder built:\n{}",
        text(&out)
    );
    assert!(
        text(&out).contains(&victim) && text(&out).contains("checksum"),
        "the error does not name {victim}:\n{}",
        text(&out)
    );
    assert!(!image_exists(&name), "a failed build tagged {name}");
    std::fs::write(folder.join(&victim), &original).unwrap();

    // The build itself: no network interface at all. The folder is in a git repository, so
    // the build is dated by its last commit (SOURCE_DATE_EPOCH by default).
    git_repository_committed_at(dir.path(), EPOCH);
    let start = Instant::now();
    let out = offline_build(&folder, &name);
    let build_secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "offline build failed:\n{}",
        text(&out)
    );
    let log = text(&out);
    assert!(log.contains("files match SHA256SUMS"), "{log}");
    assert!(log.contains("local packages"), "{log}");
    assert!(
        log.contains(&format!("SOURCE_DATE_EPOCH={EPOCH}: the last commit of")),
        "{log}"
    );
    eprintln!("offline build (unshare -n, --no-cache): {build_secs:.0} s");
    let first = image_id(&name);
    let created = images::inspect(&name);
    assert!(
        created.contains("2023-11-14T22:13:20Z"),
        "the image is not dated by the commit:\n{created}"
    );

    let verify = hangar_on_test_store()
        .args(["verify", "--engine", "podman", &name])
        .output()
        .unwrap();
    eprintln!("hangar verify {name}:\n{}", text(&verify));
    assert!(verify.status.success(), "{}", text(&verify));
    let run = images::podman_run(
        &name,
        &[],
        &[
            "bash",
            "-c",
            "airflow version; pip show apache-airflow-providers-postgres | grep ^Version; command -v psql; command -v uv || echo no-uv",
        ],
    );
    let shown = text(&run);
    assert!(run.status.success(), "{shown}");
    assert!(shown.contains(AIRFLOW), "{shown}");
    assert!(shown.contains("/usr/bin/psql"), "{shown}");
    assert!(
        shown.contains("no-uv"),
        "the installer's wheel reached the image:\n{shown}"
    );

    // Reproducible: the same inputs again, with no cache, give the same image.
    let again = format!("{name}-again");
    let _again = ImageGuard::new(&again);
    let out = offline_build(&folder, &again);
    assert!(
        out.status.success(),
        "second offline build failed:\n{}",
        text(&out)
    );
    let second = image_id(&again);
    eprintln!("image IDs of two --no-cache builds: {first} and {second}");
    assert_eq!(first, second, "two builds of the same inputs differ");

    drop((_image, _again));
    prune_dangling();
}

const EPOCH: u64 = 1_700_000_000;

/// Makes `dir` a git repository whose one commit is dated `epoch`.
fn git_repository_committed_at(dir: &Path, epoch: u64) {
    let date = format!("@{epoch} +0000");
    for args in [
        vec!["init", "-q"],
        vec![
            "-c",
            "user.name=hangar tests",
            "-c",
            "user.email=tests@hangar.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "the download",
        ],
    ] {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(&args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("run git (apt-get install git)");
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    }
}

fn image_id(name: &str) -> String {
    images::stdout_of(
        images::buildah().args(["inspect", "--format", "{{.FromImageID}}", name]),
        "buildah inspect",
    )
    .trim()
    .to_owned()
}
