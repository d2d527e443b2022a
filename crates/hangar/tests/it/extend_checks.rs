//! Extending an image built by hangar the classic way: `FROM` it, apt as root, back to the
//! airflow user by name, `pip install --user`, DAGs copied in.

use std::path::Path;

use hangar_testkit::images::{ImageGuard, buildah};

use crate::image_checks::{Engine, assert_script_prints, text};

/// The extension: apt as root then `USER airflow`, a `pip install --no-cache-dir --user` as
/// the airflow user and a DAG under `/opt/airflow/dags`. This machine reaches PyPI only with its
/// CA bundle, so the pip line mounts it (readable by the airflow user); elsewhere that line is
/// a plain `RUN pip install --no-cache-dir --user pyjokes==0.8.3`.
const EXTEND: &str = r#"FROM {BASE}
USER root
RUN apt-get update \
  && apt-get install -y --no-install-recommends jq \
  && apt-get autoremove -yqq --purge \
  && apt-get clean \
  && rm -rf /var/lib/apt/lists/*
USER airflow
RUN --mount=type=secret,id=hangar-ca,mode=0444 PIP_CERT=/run/secrets/hangar-ca \
    pip install --no-cache-dir --user pyjokes==0.8.3
COPY dags/ /opt/airflow/dags/
"#;

const DAG: &str = "from airflow import DAG\n";

/// Builds [`EXTEND`] `FROM base` with buildah and checks the result through the entrypoint:
/// the apt tool runs, the user is `airflow`, the `--user` package imports (also for an arbitrary
/// UID), Airflow and `pip check` are intact, the DAG is in place.
pub(crate) fn assert_extends_the_classic_way(engine: &impl Engine, base: &str, ca: &Path) {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        EXTEND.replace("{BASE}", base),
    )
    .unwrap();
    std::fs::create_dir(ctx.path().join("dags")).unwrap();
    std::fs::write(ctx.path().join("dags/extended.py"), DAG).unwrap();
    let tag = format!("{base}-extended");
    let _image = ImageGuard::new(&tag);
    let out = buildah()
        .args([
            "bud",
            "--isolation",
            "chroot",
            "--layers",
            "--format",
            "docker",
        ])
        .arg("--secret")
        .arg(format!("id=hangar-ca,src={}", ca.display()))
        .args(["-t", &tag])
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "extend build failed:\n{}", text(&out));

    let script = "jq --version; echo user=$(id -un); pip show pyjokes | grep ^Version; \
                  airflow version; pip check >/dev/null && echo pipcheck=ok; \
                  stat -c 'dag=%n' /opt/airflow/dags/extended.py";
    assert_script_prints(
        engine,
        &tag,
        script,
        &[
            "jq-1.6",
            "user=airflow",
            "Version: 0.8.3",
            "3.3.2",
            "pipcheck=ok",
            "dag=/opt/airflow/dags/extended.py",
        ],
    );
    let run = engine.run(&tag, Some("12345:0"), &["python", "-c", "import pyjokes"]);
    assert!(run.status.success(), "{}", text(&run));
}
