//! The extend route as a user takes it: `hangar new`, then `hangar build --extend BASE` of the
//! project, with a `packages.txt` written on Windows (CRLF, comments), a requirement, the
//! example DAG; then the DAG check failing a build, a requirement that would change Airflow
//! refused, a DAG-only change that reuses every other layer, and `hangar check-dags`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::image_checks::{Engine, assert_no_secrets, assert_script_prints, text};
use crate::layer_checks::layers;

const BIN: &str = env!("CARGO_BIN_EXE_hangar");

/// How a test runs hangar against its engine: `hangar ARGS…` with the engine's environment
/// (store, daemon socket) and `--engine NAME` where the command takes one.
pub(crate) struct Hangar<'a> {
    pub(crate) engine_name: &'a str,
    pub(crate) env: Vec<(String, std::ffi::OsString)>,
    /// Appended to every `hangar build` (e.g. `--engine-arg=--network=host` for Docker).
    pub(crate) build_extra: Vec<String>,
    /// True when the engine's store has an image of that name.
    pub(crate) image_exists: &'a dyn Fn(&str) -> bool,
}

impl Hangar<'_> {
    fn run(&self, command: &str, args: &[&str]) -> Output {
        self.run_in(None, command, args)
    }

    /// `hangar COMMAND ARGS…` in the folder `cwd` (default: the test's).
    fn run_in(&self, cwd: Option<&Path>, command: &str, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        if let Some(dir) = cwd {
            c.current_dir(dir);
        }
        c.arg(command)
            .args(["--engine", self.engine_name])
            .args(args);
        if command == "build" {
            c.args(&self.build_extra);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.stdin(Stdio::null()).output().expect("run hangar")
    }
}

/// `packages.txt` as an editor on Windows saves it, with comments and blank lines.
const PACKAGES: &str =
    "# tools the DAGs call\r\njq\r\n\r\ntree   # a second one on its own line\r\n";
const REQUIREMENTS: &str = "# a pure-Python package\npyjokes==0.8.3\n";
const SYNTAX_ERROR: &str = "from airflow import DAG\ndef broken(:\n    pass\n";
const MISSING_MODULE: &str = "from airflow import DAG\nimport hangar_no_such_module\n";

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// The build secrets of every build: a CA bundle and a pip.conf, both marked.
pub(crate) struct Secrets<'a> {
    pub(crate) ca: &'a Path,
    pub(crate) pip_conf: &'a Path,
}

fn build(
    h: &Hangar<'_>,
    project: &Path,
    base: &str,
    secrets: &Secrets<'_>,
    tag: &str,
    more: &[&str],
) -> Output {
    let mut args = vec!["--extend", base, "--progress", "plain", "-t", tag];
    let project = project.to_str().unwrap();
    let ca = secrets.ca.to_str().unwrap();
    let pip_conf = secrets.pip_conf.to_str().unwrap();
    args.extend([
        "--project",
        project,
        "--ca-bundle",
        ca,
        "--pip-conf",
        pip_conf,
    ]);
    args.extend(more);
    h.run("build", &args)
}

fn assert_refused(h: &Hangar<'_>, out: &Output, tag: &str, wants: &[&str]) {
    let all = text(out);
    assert!(!out.status.success(), "the build should fail:\n{all}");
    for w in wants {
        assert!(all.contains(w), "no {w:?} in:\n{all}");
    }
    assert!(!(h.image_exists)(tag), "{tag} was tagged by a failed build");
}

/// Anything held for its `Drop`.
pub(crate) trait Held {}
impl<T> Held for T {}

/// Holds what removes an image tagged by the test when dropped (also on a failed assertion).
pub(crate) type Guard<'a> = Box<dyn Held + 'a>;

/// The whole route FROM `base` (a hangar image with Airflow 3.3.2). `tag_prefix` makes the
/// tags unique; `guard` makes the guard of each tag before the build that may make it.
/// Prints the first build's time and the DAG-only rebuild's (for the benchmark notes).
#[allow(clippy::print_stderr)]
pub(crate) fn assert_extend_route<'g>(
    h: &Hangar<'_>,
    engine: &impl Engine,
    base: &str,
    secrets: &Secrets<'_>,
    tag_prefix: &str,
    guard: &dyn Fn(&str) -> Guard<'g>,
) {
    let tags = [
        "extended",
        "extended-dags",
        "extended-broken",
        "extended-unchecked",
        "extended-other-airflow",
    ]
    .map(|s| format!("{tag_prefix}-{s}"));
    let _guards: Vec<Guard<'g>> = tags.iter().map(|t| guard(t)).collect();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let new = Command::new(BIN).arg("new").arg(&project).output().unwrap();
    assert!(new.status.success(), "{}", text(&new));
    write(&project.join("packages.txt"), PACKAGES);
    write(&project.join("requirements.txt"), REQUIREMENTS);
    std::fs::create_dir_all(project.join("include")).unwrap();
    write(&project.join("include/sql.txt"), "select 1\n");

    // The first build, as a user runs it in the project (whose hangar.toml sets customize
    // options the extend route ignores), timed against the DAG-only rebuild below.
    let tag = format!("{tag_prefix}-extended");
    let started = Instant::now();
    let ca_path = secrets.ca.to_str().unwrap();
    let pip_conf = secrets.pip_conf.to_str().unwrap();
    let args = [
        "--extend",
        base,
        "--progress",
        "plain",
        "-t",
        &tag,
        "--ca-bundle",
        ca_path,
        "--pip-conf",
        pip_conf,
    ];
    let out = h.run_in(Some(&project), "build", &args);
    let first = started.elapsed();
    let log = text(&out);
    assert!(out.status.success(), "extend build failed:\n{log}");
    assert!(
        log.contains("is for the customize route; the extend route ignores it"),
        "{log}"
    );
    assert!(
        log.contains("extending ") && log.contains("Airflow 3.3.2, UID 50000"),
        "{log}"
    );
    assert!(
        log.contains("DAG check passed: 1 DAG(s)") && log.contains("(example_hangar)"),
        "{log}"
    );
    let script = "jq --version; tree --version | cut -d' ' -f1-2; pip show pyjokes | grep ^Version; \
                  airflow version; pip check >/dev/null && echo pipcheck=ok; \
                  grep -xE 'apache-airflow(-core)?==3[.]3[.]2' \"$HOME/constraints.txt\"; \
                  stat -c '%n %u:%g %A' /opt/airflow/dags/example_dag.py /opt/airflow/include/sql.txt; \
                  stat -c '%n %u:%g %A' /opt/airflow/plugins /opt/airflow/include; \
                  airflow db migrate >/dev/null 2>&1; airflow dags reserialize >/dev/null 2>&1; airflow dags list -o plain 2>/dev/null | grep -o '^example_hangar'";
    assert_script_prints(
        engine,
        &tag,
        script,
        &[
            "jq-1.6",
            "tree v2.1.0",
            "Version: 0.8.3",
            "3.3.2",
            "pipcheck=ok",
            // The base pins its Airflow in the constraints an extension installs with.
            "apache-airflow==3.3.2",
            "apache-airflow-core==3.3.2",
            "/opt/airflow/dags/example_dag.py 50000:0 -rw-rw-r--",
            "/opt/airflow/include/sql.txt 50000:0 -rw-rw-r--",
            "/opt/airflow/plugins 50000:0 drwxrwxr-x",
            "/opt/airflow/include 50000:0 drwxrwxr-x",
            "example_hangar",
        ],
    );
    // The CA bundle and the pip.conf were secrets: nothing of them in a layer or the history.
    assert_no_secrets(engine, &tag, dir.path());

    // A DAG-only change: every layer but the last (the DAGs) is reused.
    let dag = project.join("dags/example_dag.py");
    let mut text_of_dag = std::fs::read_to_string(&dag).unwrap();
    text_of_dag.push_str("\n# changed by the test\n");
    write(&dag, &text_of_dag);
    let retag = format!("{tag_prefix}-extended-dags");
    let started = Instant::now();
    let out = build(h, &project, base, secrets, &retag, &[]);
    let rebuild = started.elapsed();
    assert!(
        out.status.success(),
        "DAG-only rebuild failed:\n{}",
        text(&out)
    );
    let a = layers(engine, &tag, dir.path());
    let b = layers(engine, &retag, dir.path());
    assert_eq!(a.len(), b.len(), "{a:#?}\n{b:#?}");
    assert_eq!(
        a[..a.len() - 1],
        b[..b.len() - 1],
        "only the DAG layer may differ"
    );
    assert_ne!(a.last(), b.last(), "the DAG layer should differ");
    eprintln!("extend route: first build {first:.1?}, DAG-only rebuild {rebuild:.1?}");

    // `hangar check-dags`: the image's own DAGs, then a host folder against its Airflow.
    let check = h.run("check-dags", &[&retag]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("example_hangar\texample_dag.py"),
        "{}",
        text(&check)
    );
    let broken_dir = dir.path().join("broken");
    std::fs::create_dir(&broken_dir).unwrap();
    write(&broken_dir.join("syntax_error.py"), SYNTAX_ERROR);
    write(&broken_dir.join("missing_module.py"), MISSING_MODULE);
    let check = h.run("check-dags", &[&retag, broken_dir.to_str().unwrap()]);
    let all = text(&check);
    assert_eq!(check.status.code(), Some(1), "{all}");
    for w in [
        "missing_module.py:",
        "No module named 'hangar_no_such_module'",
        "syntax_error.py:",
        "SyntaxError",
    ] {
        assert!(all.contains(w), "no {w:?} in:\n{all}");
    }

    // Broken DAGs fail the build, name each file, and tag nothing.
    write(&project.join("dags/syntax_error.py"), SYNTAX_ERROR);
    write(&project.join("dags/missing_module.py"), MISSING_MODULE);
    let broken = format!("{tag_prefix}-extended-broken");
    let out = build(h, &project, base, secrets, &broken, &[]);
    assert_refused(
        h,
        &out,
        &broken,
        &[
            "DAG check failed, so no image was tagged",
            "2 DAG file(s) in /opt/airflow/dags do not import",
            "missing_module.py:",
            "No module named 'hangar_no_such_module'",
            "syntax_error.py:",
            "SyntaxError",
        ],
    );
    // Without the check the same project builds and is tagged.
    let unchecked = format!("{tag_prefix}-extended-unchecked");
    let out = build(h, &project, base, secrets, &unchecked, &["--no-check-dags"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("DAG check"), "{}", text(&out));
    std::fs::remove_file(project.join("dags/syntax_error.py")).unwrap();
    std::fs::remove_file(project.join("dags/missing_module.py")).unwrap();

    // A requirement that would upgrade (or downgrade) Airflow is refused before pip runs, and
    // named.
    let other = format!("{tag_prefix}-extended-other-airflow");
    for (line, wanted) in [
        ("apache-airflow[celery]>=3.4", ">=3.4"),
        ("apache-airflow-core==3.1.0", "==3.1.0"),
    ] {
        write(
            &project.join("requirements.txt"),
            &format!("pyjokes==0.8.3\n{line}\n"),
        );
        let out = build(h, &project, base, secrets, &other, &[]);
        assert_refused(
            h,
            &out,
            &other,
            &[
                &format!("requirements.txt would change Airflow from 3.3.2 to {wanted}"),
                &format!("the line `{line}`"),
            ],
        );
    }

    // A bad packages.txt line is refused before any engine runs.
    write(&project.join("packages.txt"), "jq\r\ncurl;id\r\n");
    let out = build(h, &project, base, secrets, &other, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("packages.txt:2: \"curl;id\" is not an apt package name"),
        "{}",
        text(&out)
    );
}
