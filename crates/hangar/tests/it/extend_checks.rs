//! Extending an image built by hangar, `FROM` it, the ways users do: the four examples of the
//! seed's "Extending the image" section (apt as root then back to the airflow user by name;
//! `pip install --user` without switching user; build-essential then a `--user` install that
//! compiles from an sdist; DAGs copied in) and today's upstream forms (`pip install` with
//! `apache-airflow==${AIRFLOW_VERSION}` pinned, with `--constraint ${HOME}/constraints.txt`,
//! and `uv pip install`).
//!
//! Each check is generic over how the extension is built ([`Builder`]): `buildah bud` in the
//! test kit's store, or BuildKit in a test's own Docker daemon (`DOCKER_BUILDKIT=1 docker
//! build`). Examples share a Dockerfile where that saves a build (each costs 30-60 s), but each
//! has an assertion of its own whose message names it.
//!
//! This machine reaches PyPI only through its CA bundle, so every pip line mounts it as the
//! `hangar-ca` secret, readable by the airflow user (`mode=0444`; the default 0400 is root's
//! only and pip then fails with an SSL "Permission denied"), and points pip at it with
//! `PIP_CERT` (uv: `SSL_CERT_FILE`). Elsewhere those lines are the plain upstream ones, e.g.
//! `RUN pip install --no-cache-dir --user pyjokes==0.8.3`.

use std::cell::RefCell;
use std::path::Path;
use std::process::{Output, Stdio};

use hangar_testkit::docker::{DockerImageGuard, Dockerd};
use hangar_testkit::images::{ImageGuard, buildah};

use crate::image_checks::{Engine, fact, text};

/// The Airflow version of the hangar-built base image, which no extension may change.
const AIRFLOW: &str = "3.3.2";

/// Examples a-d in one Dockerfile. (b) comes first, straight after `FROM`: a `--user` install
/// as the image's own user, with no `USER` line. (a) and (c) share the root apt step (jq for
/// (a); build-essential, and the Python headers a C extension needs, for (c)), then `USER
/// airflow` by name; (c) forces a compile from the sdist with `--no-binary`; (d) copies DAGs.
const CLASSIC: &str = r#"FROM {BASE}
RUN --mount=type=secret,id=hangar-ca,mode=0444 PIP_CERT=/run/secrets/hangar-ca \
    pip install --no-cache-dir --user pyjokes==0.8.3
USER root
RUN apt-get update \
  && apt-get install -y --no-install-recommends \
         jq build-essential python3-dev \
  && apt-get autoremove -yqq --purge \
  && apt-get clean \
  && rm -rf /var/lib/apt/lists/*
USER airflow
RUN --mount=type=secret,id=hangar-ca,mode=0444 PIP_CERT=/run/secrets/hangar-ca \
    pip install --no-cache-dir --user --no-binary mmh3 mmh3==5.1.0
COPY dags/ /opt/airflow/dags/
"#;

/// The DAG file example (d) copies in.
const DAG: &str = "from airflow import DAG\n";

/// Today's upstream pip forms, one `RUN` each, as the image's user: Airflow pinned next to the
/// new package, and the image's own constraints file.
const UPSTREAM_PIP: &str = r#"FROM {BASE}
RUN --mount=type=secret,id=hangar-ca,mode=0444 PIP_CERT=/run/secrets/hangar-ca \
    pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" pyfiglet==1.0.2
RUN --mount=type=secret,id=hangar-ca,mode=0444 PIP_CERT=/run/secrets/hangar-ca \
    pip install --no-cache-dir --constraint "${HOME}/constraints.txt" emoji==2.14.1
"#;

/// Today's upstream uv form. uv reads the CA bundle from `SSL_CERT_FILE`, not `PIP_CERT`.
const UPSTREAM_UV: &str = r#"FROM {BASE}
RUN --mount=type=secret,id=hangar-ca,mode=0444 SSL_CERT_FILE=/run/secrets/hangar-ca \
    uv pip install art==6.4
"#;

/// The facts of the image built from [`CLASSIC`], one `key=value` line each, keyed by example.
const CLASSIC_FACTS: &str = r#"
echo "a.jq=$(jq --version 2>&1)"
echo "a.user=$(id -un)"
echo "b.pyjokes=$(python -c 'import importlib.metadata as m, pyjokes; print(m.version("pyjokes"))' 2>&1)"
echo "c.gcc=$(command -v gcc || echo none)"
echo "c.mmh3=$(python -c 'import mmh3; print(mmh3.hash("foo"))' 2>&1)"
echo "c.wheel=$(python -c 'import importlib.metadata as m; print(*[l for l in m.distribution("mmh3").read_text("WHEEL").splitlines() if l.startswith(("Tag:", "Generator:"))], sep=";")' 2>&1)"
echo "d.dag=$(head -n 1 /opt/airflow/dags/extended.py 2>&1)"
echo "airflow=$(airflow version 2>/dev/null | tail -n 1)"
if pip check >/dev/null 2>&1; then echo "pipcheck=ok"; else echo "pipcheck=FAILED"; pip check; fi
"#;

/// The facts of an image built from [`UPSTREAM_PIP`] or [`UPSTREAM_UV`].
const UPSTREAM_FACTS: &str = r#"
for p in pyfiglet emoji art; do
  echo "$p=$(python -c "import importlib.metadata as m, $p; print(m.version('$p'))" 2>/dev/null || echo missing)"
done
echo "airflow=$(airflow version 2>/dev/null | tail -n 1)"
if pip check >/dev/null 2>&1; then echo "pipcheck=ok"; else echo "pipcheck=FAILED"; pip check; fi
"#;

/// How an extension image is built from a context holding a `Dockerfile`, and how its
/// containers are run. Every tag it builds is removed when the builder is dropped.
trait Builder {
    type Engine: Engine;
    /// The engine running the built images.
    fn engine(&self) -> &Self::Engine;
    /// A name for messages.
    fn name(&self) -> &'static str;
    /// Builds `ctx` as `tag` with `ca` as the `hangar-ca` secret (the tag is removed later).
    fn build(&self, ctx: &Path, tag: &str, ca: &Path) -> Output;
}

/// `buildah bud` in the test kit's store; images run with `engine` (podman + runc).
struct Buildah<'e, E> {
    engine: &'e E,
    images: RefCell<Vec<ImageGuard>>,
}

impl<E: Engine> Builder for Buildah<'_, E> {
    type Engine = E;

    fn engine(&self) -> &E {
        self.engine
    }

    fn name(&self) -> &'static str {
        "buildah"
    }

    fn build(&self, ctx: &Path, tag: &str, ca: &Path) -> Output {
        self.images.borrow_mut().push(ImageGuard::new(tag));
        buildah()
            .args(["bud", "--isolation", "chroot", "--layers", "--force-rm"])
            .args(["--format", "docker", "--secret"])
            .arg(format!("id=hangar-ca,src={}", ca.display()))
            .args(["-t", tag])
            .arg(ctx)
            .stdin(Stdio::null())
            .output()
            .expect("run buildah bud")
    }
}

/// BuildKit in a test's own daemon: `DOCKER_BUILDKIT=1 docker build` with Debian's client,
/// host network; images run in the same daemon.
struct Docker<'d> {
    daemon: &'d Dockerd,
    images: RefCell<Vec<DockerImageGuard<'d>>>,
}

impl Builder for Docker<'_> {
    type Engine = Dockerd;

    fn engine(&self) -> &Dockerd {
        self.daemon
    }

    fn name(&self) -> &'static str {
        "docker (BuildKit)"
    }

    fn build(&self, ctx: &Path, tag: &str, ca: &Path) -> Output {
        self.images.borrow_mut().push(self.daemon.image_guard(tag));
        self.daemon
            .client()
            .env("DOCKER_BUILDKIT", "1")
            .args([
                "build",
                "--progress",
                "plain",
                "--network",
                "host",
                "--secret",
            ])
            .arg(format!("id=hangar-ca,src={}", ca.display()))
            .args(["-t", tag])
            .arg(ctx)
            .output()
            .expect("run docker build")
    }
}

/// Every seed and upstream extend example `FROM base` (an Airflow 3 image built by hangar in
/// the test kit's buildah store), built with buildah and run with `engine`.
pub(crate) fn assert_seed_extend_examples_buildah(engine: &impl Engine, base: &str, ca: &Path) {
    let builder = Buildah {
        engine,
        images: RefCell::new(Vec::new()),
    };
    assert_seed_extend_examples(&builder, base, ca);
}

/// Every seed and upstream extend example `FROM base` (an Airflow 3 image in `daemon`), built
/// by the daemon's BuildKit and run in it.
pub(crate) fn assert_seed_extend_examples_docker(daemon: &Dockerd, base: &str, ca: &Path) {
    let builder = Docker {
        daemon,
        images: RefCell::new(Vec::new()),
    };
    assert_seed_extend_examples(&builder, base, ca);
}

/// The examples in order; the uv form last, so that an image without uv fails the test only
/// after every other example has been checked.
fn assert_seed_extend_examples(b: &impl Builder, base: &str, ca: &Path) {
    let classic = build(b, &format!("{base}-ext-classic"), CLASSIC, base, ca, "a-d");
    let facts = run_facts(b, &classic, CLASSIC_FACTS, "a-d");
    example_a_apt_as_root_then_user_airflow(b, &facts);
    example_b_pip_user_without_switching_user(b, &classic, &facts);
    example_c_build_essential_then_pip_user_from_sdist(b, &facts);
    example_d_dags_copied_in(b, &facts);

    let upstream = build(
        b,
        &format!("{base}-ext-pip"),
        UPSTREAM_PIP,
        base,
        ca,
        "e (pip)",
    );
    let facts = run_facts(b, &upstream, UPSTREAM_FACTS, "e (pip)");
    example_e_pip_install_with_airflow_pinned(b, &facts);
    example_e_pip_install_with_the_image_constraints(b, &facts);

    example_e_uv_pip_install(b, base, ca);
}

/// Builds `dockerfile` (its `{BASE}` replaced by `base`) as `tag`, in a context that also
/// holds `dags/extended.py`; fails naming the `examples` on a build failure.
fn build(
    b: &impl Builder,
    tag: &str,
    dockerfile: &str,
    base: &str,
    ca: &Path,
    examples: &str,
) -> String {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        dockerfile.replace("{BASE}", base),
    )
    .unwrap();
    std::fs::create_dir(ctx.path().join("dags")).unwrap();
    std::fs::write(ctx.path().join("dags/extended.py"), DAG).unwrap();
    let out = b.build(ctx.path(), tag, ca);
    assert!(
        out.status.success(),
        "extend example {examples}, {}: the build failed:\n{}",
        b.name(),
        text(&out)
    );
    tag.to_owned()
}

/// Runs `script` through the entrypoint of `image` as its user; its output.
fn run_facts(b: &impl Builder, image: &str, script: &str, examples: &str) -> String {
    let run = b.engine().run(image, None, &["bash", "-c", script]);
    let out = text(&run);
    assert!(
        run.status.success(),
        "extend example {examples}, {}: the facts run failed:\n{out}",
        b.name()
    );
    out
}

/// Asserts the `key=` line of `facts` is `want`, naming `example` and the builder.
fn assert_fact(b: &impl Builder, example: &str, facts: &str, key: &str, want: &str) {
    assert_eq!(
        fact(facts, key),
        want,
        "extend example {example}, {}: {key}\n{facts}",
        b.name()
    );
}

/// Airflow unchanged and a clean `pip check` after `example`.
fn assert_airflow_intact(b: &impl Builder, example: &str, facts: &str) {
    assert_fact(b, example, facts, "airflow", AIRFLOW);
    assert_fact(b, example, facts, "pipcheck", "ok");
}

/// (a) apt as root, then `USER airflow` by name: the apt tool runs and the user is airflow.
fn example_a_apt_as_root_then_user_airflow(b: &impl Builder, facts: &str) {
    let example = "a (apt as root, then USER airflow)";
    assert_fact(b, example, facts, "a.jq", "jq-1.6");
    assert_fact(b, example, facts, "a.user", "airflow");
}

/// (b) `pip install --user` as the image's user, no `USER` line: the package imports through
/// the entrypoint, also for an arbitrary UID in group 0; Airflow and `pip check` intact.
fn example_b_pip_user_without_switching_user(b: &impl Builder, image: &str, facts: &str) {
    let example = "b (pip install --user without switching user)";
    assert_fact(b, example, facts, "b.pyjokes", "0.8.3");
    assert_airflow_intact(b, example, facts);
    let run = b.engine().run(
        image,
        Some("12345:0"),
        &[
            "python",
            "-c",
            "import importlib.metadata as m, pyjokes; print('pyjokes=' + m.version('pyjokes'))",
        ],
    );
    let out = text(&run);
    assert!(
        run.status.success(),
        "extend example {example}, {}: import as 12345:0 failed:\n{out}",
        b.name()
    );
    assert_fact(b, example, &out, "pyjokes", "0.8.3");
}

/// (c) build-essential via apt as root, then `USER airflow` and a `--user` install compiled
/// from the sdist (`--no-binary`): mmh3's C extension, built here (a wheel made by setuptools
/// on this machine, tagged for plain `linux`, not a manylinux one from PyPI), imports and
/// hashes.
fn example_c_build_essential_then_pip_user_from_sdist(b: &impl Builder, facts: &str) {
    let example = "c (build-essential, then pip install --user from an sdist)";
    assert_fact(b, example, facts, "c.gcc", "/usr/bin/gcc");
    assert_fact(b, example, facts, "c.mmh3", "-156908512");
    let wheel = fact(facts, "c.wheel");
    assert!(
        wheel.contains("Generator: setuptools")
            && wheel.contains("Tag: cp311-cp311-linux_")
            && !wheel.contains("manylinux"),
        "extend example {example}, {}: mmh3 was not compiled from its sdist: {wheel}\n{facts}",
        b.name()
    );
}

/// (d) `COPY dags/ /opt/airflow/dags/`: the DAG file is there.
fn example_d_dags_copied_in(b: &impl Builder, facts: &str) {
    assert_fact(
        b,
        "d (COPY dags/ /opt/airflow/dags/)",
        facts,
        "d.dag",
        DAG.trim_end(),
    );
}

/// (e) `pip install "apache-airflow==${AIRFLOW_VERSION}" PKG`: PKG imports, Airflow unchanged.
fn example_e_pip_install_with_airflow_pinned(b: &impl Builder, facts: &str) {
    let example = "e (pip install \"apache-airflow==${AIRFLOW_VERSION}\" PKG)";
    assert_fact(b, example, facts, "pyfiglet", "1.0.2");
    assert_airflow_intact(b, example, facts);
}

/// (e) `pip install --constraint "${HOME}/constraints.txt" PKG`: PKG imports, Airflow unchanged.
fn example_e_pip_install_with_the_image_constraints(b: &impl Builder, facts: &str) {
    let example = "e (pip install --constraint \"${HOME}/constraints.txt\" PKG)";
    assert_fact(b, example, facts, "emoji", "2.14.1");
    assert_airflow_intact(b, example, facts);
}

/// (e) `uv pip install PKG`: the image must have uv (upstream's images do, and upstream
/// documents this form), PKG imports, Airflow unchanged.
fn example_e_uv_pip_install(b: &impl Builder, base: &str, ca: &Path) {
    let example = "e (uv pip install PKG)";
    let run = b.engine().run(
        base,
        None,
        &[
            "bash",
            "-c",
            "command -v uv && uv --version || { echo \"no uv in PATH=$PATH\"; exit 1; }",
        ],
    );
    assert!(
        run.status.success(),
        "extend example {example}, {}: the image {base} has no `uv` on PATH (as the airflow user, \
         through the entrypoint), so upstream's `RUN uv pip install PKG` cannot work on it:\n{}",
        b.name(),
        text(&run)
    );
    let image = build(b, &format!("{base}-ext-uv"), UPSTREAM_UV, base, ca, example);
    let facts = run_facts(b, &image, UPSTREAM_FACTS, example);
    assert_fact(b, example, &facts, "art", "6.4");
    assert_airflow_intact(b, example, &facts);
}
