//! `hangar install extend-apt` and `hangar install extend-python`: the steps of an image built
//! FROM an existing Airflow image (`hangar build --extend`). They run in the base image, which
//! may be a hangar image or another Airflow image, so they assume only Debian's apt, a shell
//! and the base's `python` with pip on `PATH`.

use std::path::{Path, PathBuf};

use super::{Paths, run};
use crate::InstallError;
use crate::apt::{self, AptInputs};
use crate::exec::{Cmd, Exec};
use crate::pin;
use crate::pip::{self, Secrets};

/// The folders of `AIRFLOW_HOME` the project's files are copied into.
pub const PROJECT_FOLDERS: [&str; 3] = ["plugins", "include", "dags"];

/// `hangar install extend-root --airflow-home DIR --uid UID PKG…` (as root): one `apt-get
/// install` of the project's `packages.txt` with the usual cleanup (nothing for an empty
/// list), then `plugins/`, `include/` and `dags/` under `AIRFLOW_HOME`, owned by `uid` and
/// group 0 with group write, so the files copied into them later stay writable by the group.
pub fn extend_root_step(
    exec: &mut dyn Exec,
    packages: &[String],
    airflow_home: &Path,
    uid: u32,
    paths: &Paths,
) -> Result<(), InstallError> {
    apt_packages(exec, packages, paths)?;
    for f in PROJECT_FOLDERS {
        let dir = paths.at(&airflow_home.join(f));
        let io = |source| InstallError::Io {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(0)).map_err(io)?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o775))
            .map_err(io)?;
    }
    Ok(())
}

fn apt_packages(
    exec: &mut dyn Exec,
    packages: &[String],
    paths: &Paths,
) -> Result<(), InstallError> {
    if packages.is_empty() {
        crate::exec::log(format_args!(
            "packages.txt lists no package: apt is not run"
        ));
        return Ok(());
    }
    let ca = paths.secrets.join("hangar-ca");
    let inputs = AptInputs {
        deps: packages.join(" "),
        ca_bundle: ca.is_file().then(|| ca.display().to_string()),
        ..AptInputs::default()
    };
    for cmd in apt::commands(apt::Stage::Runtime, &inputs) {
        run(
            exec,
            &cmd,
            "installing packages.txt",
            "check the package names in packages.txt against the base image's Debian release \
             (apt-cache search NAME in the base image)",
        )?;
    }
    Ok(())
}

/// What `extend-python` installs.
#[derive(Debug, Clone)]
pub struct ExtendPython {
    /// The project's requirements file, as mounted in the build.
    pub requirements: PathBuf,
    /// The base image's Airflow version, kept by the install.
    pub airflow_version: String,
    /// The airflow user's home, where a base image keeps its `constraints.txt`.
    pub home: PathBuf,
    /// Where pip writes its dry-run report.
    pub report: PathBuf,
}

/// True when a requirements file holds at least one requirement or option line.
fn has_requirements(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `hangar install extend-python` (as the airflow user): the project's `requirements.txt`
/// with the base's Airflow pinned and the base's `~/constraints.txt` when it has one. A
/// requirement that names another Airflow is refused before pip runs; one that would pull
/// another Airflow in is found in pip's dry-run report and named.
pub fn extend_python_step(
    exec: &mut dyn Exec,
    x: &ExtendPython,
    paths: &Paths,
) -> Result<(), InstallError> {
    let text = std::fs::read_to_string(&x.requirements).map_err(|e| InstallError::Io {
        path: x.requirements.clone(),
        source: e,
    })?;
    if !has_requirements(&text) {
        crate::exec::log(format_args!(
            "requirements.txt lists nothing: pip is not run"
        ));
        return Ok(());
    }
    let shown = "requirements.txt";
    pin::check_requirements(&text, &x.airflow_version, shown)?;

    let constraints = x.home.join("constraints.txt");
    let constraints = paths.at(&constraints).is_file().then_some(constraints);
    let mut env = pip::base_env("8");
    env.extend(Secrets::discover(&paths.secrets, Path::new("/nonexistent")).env());

    let fix = "see pip's message above: a requirement that conflicts with the base image's constraints \
               needs a version the constraints allow, or remove the constraint by extending another image";
    let (dry_run, install) = commands(x, constraints.as_deref(), &env);
    let ran = run(exec, &dry_run, "installing requirements.txt", fix);
    let report = std::fs::read_to_string(&x.report);
    // The report is scratch: it must not stay behind in the step's layer.
    let _ = std::fs::remove_file(&x.report);
    ran?;
    let report = report.map_err(|e| InstallError::Io {
        path: x.report.clone(),
        source: e,
    })?;
    pin::check_report(&report, &x.airflow_version, shown).map_err(InstallError::PipReport)??;
    run(exec, &install, "installing requirements.txt", fix)
}

/// The dry run (whose report is read in between) and the install.
fn commands(x: &ExtendPython, constraints: Option<&Path>, env: &[(String, String)]) -> (Cmd, Cmd) {
    let base = || {
        let mut c = Cmd::new("python")
            .args(["-m", "pip", "install", "--no-cache-dir", "-r"])
            .arg(x.requirements.display().to_string());
        if let Some(c2) = constraints {
            c = c.arg("--constraint").arg(c2.display().to_string());
        }
        c.envs(env)
    };
    (
        base()
            .args(["--dry-run", "--quiet", "--report"])
            .arg(x.report.display().to_string()),
        base().arg(format!("apache-airflow=={}", x.airflow_version)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Finished;

    #[derive(Default)]
    struct Recorder {
        ran: Vec<Cmd>,
        report: Option<(PathBuf, String)>,
    }

    impl Exec for Recorder {
        fn run(&mut self, cmd: &Cmd) -> std::io::Result<Finished> {
            if let Some((path, text)) = &self.report
                && cmd.args.iter().any(|a| a == "--dry-run")
            {
                std::fs::write(path, text)?;
            }
            self.ran.push(cmd.clone());
            Ok(Finished::default())
        }
        fn capture(&mut self, cmd: &Cmd) -> std::io::Result<Finished> {
            self.run(cmd)
        }
    }

    fn setup(reqs: &str, constraints: bool) -> (tempfile::TempDir, ExtendPython, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("home/airflow")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        if constraints {
            std::fs::write(root.join("home/airflow/constraints.txt"), "rich==13.0\n").unwrap();
        }
        std::fs::write(root.join("requirements.txt"), reqs).unwrap();
        let x = ExtendPython {
            requirements: root.join("requirements.txt"),
            airflow_version: "3.3.2".into(),
            home: PathBuf::from("/home/airflow"),
            report: root.join("tmp/report.json"),
        };
        let paths = Paths {
            root,
            secrets: dir.path().join("secrets"),
            ..Paths::default()
        };
        (dir, x, paths)
    }

    #[test]
    fn dry_run_then_install_with_the_pin_and_the_base_constraints() {
        let (_d, x, paths) = setup("rich\n", true);
        let mut rec = Recorder {
            report: Some((x.report.clone(), r#"{"install": []}"#.into())),
            ..Recorder::default()
        };
        extend_python_step(&mut rec, &x, &paths).unwrap();
        let lines: Vec<String> = rec.ran.iter().map(Cmd::display).collect();
        let req = x.requirements.display();
        let report = x.report.display();
        assert_eq!(
            lines,
            [
                format!(
                    "python -m pip install --no-cache-dir -r {req} --constraint /home/airflow/constraints.txt --dry-run --quiet --report {report}"
                ),
                format!(
                    "python -m pip install --no-cache-dir -r {req} --constraint /home/airflow/constraints.txt apache-airflow==3.3.2"
                ),
            ]
        );
        assert!(!x.report.exists(), "the dry-run report is removed");
    }

    #[test]
    fn a_report_with_another_airflow_stops_before_the_install() {
        let (_d, x, paths) = setup("apache-airflow-providers-foo\n", false);
        let report = r#"{"install": [
            {"requested": true, "metadata": {"name": "apache-airflow-providers-foo", "version": "9.0", "requires_dist": ["apache-airflow>=3.4"]}},
            {"requested": false, "metadata": {"name": "apache-airflow", "version": "3.4.0"}}]}"#;
        let mut rec = Recorder {
            report: Some((x.report.clone(), report.into())),
            ..Recorder::default()
        };
        let err = extend_python_step(&mut rec, &x, &paths)
            .unwrap_err()
            .to_string();
        assert_eq!(rec.ran.len(), 1, "only the dry run ran");
        assert!(
            !x.report.exists(),
            "the dry-run report is removed when it refuses too"
        );
        assert!(
            !rec.ran[0].display().contains("constraints"),
            "no constraints file in the base"
        );
        assert!(
            err.contains("from 3.3.2 to 3.4.0: asked for by apache-airflow-providers-foo==9.0"),
            "{err}"
        );
    }

    #[test]
    fn a_pin_of_another_airflow_runs_no_pip_and_an_empty_file_runs_nothing() {
        let (_d, x, paths) = setup("apache-airflow==3.1.0\n", false);
        let mut rec = Recorder::default();
        let err = extend_python_step(&mut rec, &x, &paths)
            .unwrap_err()
            .to_string();
        assert!(rec.ran.is_empty());
        assert!(err.contains("the line `apache-airflow==3.1.0`"), "{err}");

        let (_d, x, paths) = setup("# nothing yet\n\n", false);
        extend_python_step(&mut rec, &x, &paths).unwrap();
        assert!(rec.ran.is_empty());
    }

    #[test]
    fn apt_installs_the_list_skips_an_empty_one_and_the_folders_are_group_writable() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (_d, _x, paths) = setup("", false);
        let uid = std::fs::metadata(&paths.root).unwrap().uid();
        let home = Path::new("/opt/airflow");
        std::fs::create_dir_all(paths.at(&home.join("dags"))).unwrap();
        let mut rec = Recorder::default();
        extend_root_step(&mut rec, &[], home, uid, &paths).unwrap();
        assert!(rec.ran.is_empty());
        for f in PROJECT_FOLDERS {
            let meta = std::fs::metadata(paths.at(&home.join(f))).unwrap();
            let got = (meta.uid(), meta.gid(), meta.permissions().mode() & 0o777);
            assert_eq!(got, (uid, 0, 0o775), "{f}");
        }
        extend_root_step(&mut rec, &["jq".into(), "curl".into()], home, uid, &paths).unwrap();
        let install = rec
            .ran
            .iter()
            .map(Cmd::display)
            .find(|l| l.contains(" install "))
            .unwrap();
        assert!(
            install.ends_with("--no-install-recommends jq curl"),
            "{install}"
        );
    }
}
