//! Real image build with `AIRFLOW_USE_UV=false`: the build stage installs with pip.
//!
//! buildah on the test kit's store (chroot isolation) on the debootstrap base, Airflow from
//! PyPI with the test machine's CA bundle, the image run with podman + runc. Serialised with
//! the other image builds; removes what it created.

use hangar_testkit::images::{
    ImageGuard, build_lock, constraints_file, ensure_base_image, marked_ca_bundle, podman_run,
    prune_dangling,
};

use crate::build_image::hangar_build;
use crate::image_checks::{CA_MARKER, EXTRAS, hangar_base_args, text};

/// `hangar build --build-arg AIRFLOW_USE_UV=false`: pip installs Airflow and the extra
/// dependency, uv is never fetched, and the image runs Airflow with a consistent venv.
#[test]
fn airflow_image_built_with_pip_when_uv_is_off() {
    let _lock = build_lock();
    ensure_base_image();
    let version = hangar_testkit::airflow::AIRFLOW_3;
    let constraints = constraints_file(version, EXTRAS);
    let dir = tempfile::tempdir().unwrap();
    let ca = marked_ca_bundle(dir.path(), CA_MARKER);
    let name = format!("localhost/hangar-test-pip:{}", std::process::id());
    let _image = ImageGuard::new(&name);
    let mut args = hangar_base_args(&ca);
    args.extend(
        [
            "--build-arg",
            "AIRFLOW_USE_UV=false",
            "--install-airflow-version",
            version,
            "--extras",
            EXTRAS,
            "--constraints-location",
            constraints.to_str().unwrap(),
            "--additional-python-deps",
            "cowsay==6.1",
            "-t",
            &name,
        ]
        .map(str::to_owned),
    );
    let out = hangar_build(&args);
    let log = text(&out);
    assert!(out.status.success(), "hangar build failed:\n{log}");

    // The build log names every install command: pip's, never uv's.
    let venv_pip = "/home/airflow/.local/bin/python -m pip install";
    assert!(
        log.contains(&format!("running {venv_pip} --constraint"))
            && log.contains(&format!(
                "running {venv_pip} --upgrade --upgrade-strategy only-if-needed cowsay==6.1"
            ))
            && log.contains("running /home/airflow/.local/bin/python -m pip check"),
        "the build did not install with pip:\n{log}"
    );
    assert!(
        !log.contains("/var/cache/hangar/uv-") && !log.contains(" pip install --python "),
        "uv was used although AIRFLOW_USE_UV=false:\n{log}"
    );

    let run = podman_run(
        &name,
        &[],
        &[
            "bash",
            "-c",
            "airflow version | tail -n 1; pip check && echo pipcheck=ok; \
             pip show cowsay | grep ^Version; command -v uv || echo uv=absent",
        ],
    );
    let got = text(&run);
    assert!(run.status.success(), "{got}");
    assert!(
        got.lines().any(|l| l.trim() == version),
        "airflow version is not {version}:\n{got}"
    );
    assert!(got.contains("pipcheck=ok"), "{got}");
    assert!(got.contains("Version: 6.1"), "{got}");
    assert!(got.contains("uv=absent"), "{got}");
    drop(_image);
    prune_dangling();
}
