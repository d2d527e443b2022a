//! The `hangar install <step>` steps: each reads the build args, builds its command lines
//! with the pure functions of this crate and runs them through an [`Exec`].

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::InstallError;
use crate::apt::{self, AptInputs};
use crate::args::BuildArgs;
use crate::constraints::{self, Constraints};
use crate::exec::{Cmd, Exec};
use crate::extras::{self, Clients};
use crate::pip::{self, InstallOpts, Secrets};
use crate::source::InstallSource;

/// Filesystem locations of a step; tests point them into a temp dir.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Filesystem root (`/` in a build).
    pub root: PathBuf,
    /// Where the engine mounts secrets.
    pub secrets: PathBuf,
    /// Where `DOCKER_CONTEXT_FILES` is mounted.
    pub context_files: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/"),
            secrets: PathBuf::from("/run/secrets"),
            context_files: PathBuf::from("/docker-context-files"),
        }
    }
}

impl Paths {
    fn at(&self, abs: &Path) -> PathBuf {
        self.root.join(abs.strip_prefix("/").unwrap_or(abs))
    }
}

fn run(exec: &mut dyn Exec, cmd: &Cmd, what: &str, fix: &str) -> Result<(), InstallError> {
    let done = exec.run(cmd).map_err(|e| InstallError::Spawn {
        program: cmd.program.clone(),
        source: e,
    })?;
    if done.code == 0 {
        Ok(())
    } else {
        Err(InstallError::Failed {
            what: what.to_owned(),
            command: cmd.display(),
            code: done.code,
            fix: fix.to_owned(),
        })
    }
}

fn clients(a: &BuildArgs) -> Result<Clients, InstallError> {
    Ok(Clients {
        mysql: a.flag("INSTALL_MYSQL_CLIENT")?,
        postgres: a.flag("INSTALL_POSTGRES_CLIENT")?,
        mssql: a.flag("INSTALL_MSSQL_CLIENT")?,
    })
}

/// `hangar install apt dev|runtime`.
pub fn apt_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    stage: apt::Stage,
    paths: &Paths,
) -> Result<(), InstallError> {
    let (prefix, names): (&str, [&str; 5]) = match stage {
        apt::Stage::Dev => (
            "DEV",
            [
                "DEV_APT_COMMAND",
                "ADDITIONAL_DEV_APT_COMMAND",
                "DEV_APT_DEPS",
                "ADDITIONAL_DEV_APT_DEPS",
                "ADDITIONAL_DEV_APT_ENV",
            ],
        ),
        apt::Stage::Runtime => (
            "RUNTIME",
            [
                "RUNTIME_APT_COMMAND",
                "ADDITIONAL_RUNTIME_APT_COMMAND",
                "RUNTIME_APT_DEPS",
                "ADDITIONAL_RUNTIME_APT_DEPS",
                "ADDITIONAL_RUNTIME_APT_ENV",
            ],
        ),
    };
    a.validate(&names)?;
    let c = clients(a)?;
    let ca = paths.secrets.join("hangar-ca");
    let inputs = AptInputs {
        command: a.get(names[0]).to_owned(),
        additional_command: a.get(names[1]).to_owned(),
        deps: a.get(names[2]).to_owned(),
        additional_deps: a.get(names[3]).to_owned(),
        env: a.get(names[4]).to_owned(),
        mysql: c.mysql,
        postgres: c.postgres,
        mssql: c.mssql,
        distro_python: paths
            .at(Path::new("/var/lib/dpkg/info/python3.list"))
            .is_file(),
        ca_bundle: ca.is_file().then(|| ca.display().to_string()),
    };
    for cmd in apt::commands(stage, &inputs) {
        let fix = if cmd.program == "sh" && cmd.args.first().is_some_and(|a| a == "-eu") {
            format!("check {prefix}_APT_COMMAND / ADDITIONAL_{prefix}_APT_COMMAND")
        } else {
            format!(
                "check the package names in {prefix}_APT_DEPS / ADDITIONAL_{prefix}_APT_DEPS and that the base image is Debian bookworm (or set {prefix}_APT_DEPS for another release)"
            )
        };
        run(
            exec,
            &cmd,
            &format!("the {} apt step", prefix.to_lowercase()),
            &fix,
        )?;
    }
    Ok(())
}

const PYTHON_ARGS: &[&str] = &[
    "PYTHON_MAJOR_MINOR_VERSION",
    "AIRFLOW_VERSION",
    "AIRFLOW_EXTRAS",
    "ADDITIONAL_AIRFLOW_EXTRAS",
    "AIRFLOW_INSTALLATION_METHOD",
    "AIRFLOW_INSTALL_SOURCES",
    "AIRFLOW_INSTALL_VERSION",
    "AIRFLOW_REPO",
    "AIRFLOW_BRANCH",
    "AIRFLOW_CONSTRAINTS_REFERENCE",
    "AIRFLOW_CONSTRAINTS_LOCATION",
    "ADDITIONAL_PIP_INSTALL_FLAGS",
    "INSTALL_DISTRIBUTIONS_FROM_CONTEXT",
    "AIRFLOW_LOCAL_PIP_WHEELS",
    "INSTALL_AIRFLOW_VIA_PIP",
    "AIRFLOW_USER_HOME_DIR",
];

/// Context distributions (`*.whl`, `*.tar.gz`) in `dir`, sorted.
pub fn context_distributions(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    p.is_file() && (n.ends_with(".whl") || n.ends_with(".tar.gz"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// True for an `apache-airflow` (not provider, not core) distribution file name.
pub fn is_airflow_distribution(file_name: &str) -> bool {
    let n = file_name.to_ascii_lowercase().replace('-', "_");
    n.strip_prefix("apache_airflow_")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn pip_opts<'a>(a: &BuildArgs, constraints: Option<&'a Path>) -> InstallOpts<'a> {
    InstallOpts {
        extra_flags: a
            .get("ADDITIONAL_PIP_INSTALL_FLAGS")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        constraints,
        ..Default::default()
    }
}

fn step_env(a: &BuildArgs, paths: &Paths) -> Vec<(String, String)> {
    let mut env = pip::base_env(a.get("CASS_DRIVER_BUILD_CONCURRENCY"));
    env.extend(Secrets::discover(&paths.secrets, &paths.context_files).env());
    env
}

fn with_env(cmd: Cmd, env: &[(String, String)]) -> Cmd {
    cmd.envs(env)
}

/// `hangar install airflow`: checks Python, creates the venv, puts the constraints in place
/// and installs Airflow (from the index, a path, a URL or the context files).
pub fn airflow_step(exec: &mut dyn Exec, a: &BuildArgs, paths: &Paths) -> Result<(), InstallError> {
    a.validate(PYTHON_ARGS)?;
    for w in a.warnings() {
        crate::exec::log(format_args!("warning: {w}"));
    }
    // The base image's Python must be the one the build was asked for.
    let wanted = a.get("PYTHON_MAJOR_MINOR_VERSION");
    let got = exec
        .capture(&pip::python_version_cmd())
        .map_err(|e| InstallError::Spawn {
            program: "python3".into(),
            source: e,
        })?;
    let got_version = got.stdout.trim();
    if got.code != 0 || got_version != wanted {
        return Err(InstallError::PythonMismatch {
            wanted: wanted.to_owned(),
            got: got_version.to_owned(),
        });
    }
    let env = step_env(a, paths);
    let venv = a.venv();
    let home = a.home();
    if !paths.at(&venv.join("bin/python")).exists() {
        run(
            exec,
            &pip::venv_cmd(&venv),
            "creating the virtualenv",
            "the base image needs the python3 venv module (Debian: python3-venv)",
        )?;
    }

    let method = if a.get("AIRFLOW_INSTALL_SOURCES").is_empty() {
        a.get("AIRFLOW_INSTALLATION_METHOD")
    } else {
        a.get("AIRFLOW_INSTALL_SOURCES")
    };
    let source = InstallSource::parse(method).map_err(|expected| InstallError::BadArg {
        name: "AIRFLOW_INSTALLATION_METHOD",
        problem: format!("{method:?} is not {expected}"),
        fix: "see docs/build-args.md",
    })?;
    let c = constraints::resolve(constraints::Inputs {
        location: a.get("AIRFLOW_CONSTRAINTS_LOCATION"),
        reference: a.get("AIRFLOW_CONSTRAINTS_REFERENCE"),
        repo: a.get("AIRFLOW_REPO"),
        airflow_version: a.get("AIRFLOW_VERSION"),
        python: wanted,
        github_branch: (source == InstallSource::GitHub).then(|| a.get("AIRFLOW_BRANCH")),
    });
    let constraints_file = home.join("constraints.txt");
    let constraints_at = paths.at(&constraints_file);
    if let Some(parent) = constraints_at.parent() {
        std::fs::create_dir_all(parent).map_err(|e| InstallError::Io {
            path: parent.to_path_buf(),
            source: e,
        })?;
    }
    let constrained = match &c {
        Constraints::File(p) => constraints::fetch(
            exec,
            &Constraints::File(paths.at(p)),
            &venv.join("bin/python"),
            &constraints_at,
            &env,
        )?,
        other => constraints::fetch(exec, other, &venv.join("bin/python"), &constraints_at, &env)?,
    };
    let constraints_opt = constrained.then_some(constraints_file.as_path());

    let extras = extras::resolve(
        a.get("AIRFLOW_EXTRAS"),
        a.get("ADDITIONAL_AIRFLOW_EXTRAS"),
        clients(a)?,
    )?;
    let version_spec = match (a.get("AIRFLOW_INSTALL_VERSION"), a.get("AIRFLOW_VERSION")) {
        ("", "") => String::new(),
        ("", v) => format!("=={v}"),
        (spec, _) => spec.to_owned(),
    };
    let from_context =
        a.flag("INSTALL_DISTRIBUTIONS_FROM_CONTEXT")? || a.flag("AIRFLOW_LOCAL_PIP_WHEELS")?;
    let via_pip = a.flag("INSTALL_AIRFLOW_VIA_PIP")?;
    let ctx = &paths.context_files;
    let dists = if from_context {
        let d = if paths.at(ctx).is_dir() {
            context_distributions(&paths.at(ctx))
        } else {
            Vec::new()
        };
        if d.is_empty() {
            return Err(InstallError::NoContextDistributions);
        }
        d.iter()
            .map(|p| ctx.join(p.file_name().unwrap_or_default()))
            .collect()
    } else {
        Vec::new()
    };
    let airflow_in_context = dists.iter().any(|p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_airflow_distribution)
    });
    let fix_version = format!(
        "check that AIRFLOW_VERSION={:?} exists (`pip index versions apache-airflow`), that the extras exist for it, and that the constraints allow the requested packages",
        a.get("AIRFLOW_VERSION")
    );
    if airflow_in_context {
        // Air-gapped: Airflow and every dependency come from the context folder.
        let mut reqs =
            vec![InstallSource::PyPi.requirement(&extras, &version_spec, Path::new("/"), "", "")];
        reqs.extend(
            dists
                .iter()
                .filter(|p| {
                    !p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(is_airflow_distribution)
                })
                .map(|p| p.display().to_string()),
        );
        let opts = InstallOpts {
            find_links: Some(ctx),
            ..pip_opts(a, constraints_opt)
        };
        run(
            exec,
            &with_env(pip::install_cmd(&venv, &reqs, &opts), &env),
            "installing Airflow from the context files",
            &format!(
                "put every needed wheel in DOCKER_CONTEXT_FILES (e.g. `pip download`); {fix_version}"
            ),
        )?;
    } else {
        if !via_pip {
            return Err(InstallError::NothingToInstall);
        }
        if let InstallSource::Path(p) = &source {
            let abs = source.resolve_path(p, Path::new(a.get("AIRFLOW_SOURCES_TO")));
            if !paths.at(&abs).exists() {
                return Err(InstallError::SourcesMissing { path: abs });
            }
        }
        let req = source.requirement(
            &extras,
            &version_spec,
            Path::new(a.get("AIRFLOW_SOURCES_TO")),
            a.get("AIRFLOW_REPO"),
            a.get("AIRFLOW_BRANCH"),
        );
        run(
            exec,
            &with_env(
                pip::install_cmd(&venv, &[req], &pip_opts(a, constraints_opt)),
                &env,
            ),
            "installing Airflow",
            &fix_version,
        )?;
        if !dists.is_empty() {
            let reqs: Vec<String> = dists.iter().map(|p| p.display().to_string()).collect();
            let opts = InstallOpts {
                find_links: Some(ctx),
                no_deps: true,
                ..pip_opts(a, None)
            };
            run(
                exec,
                &with_env(pip::install_cmd(&venv, &reqs, &opts), &env),
                "installing the context distributions",
                "check the wheels in DOCKER_CONTEXT_FILES",
            )?;
        }
    }
    run(
        exec,
        &with_env(pip::check_cmd(&venv), &env),
        "pip check",
        "fix the conflicting requirements listed above (constraints or ADDITIONAL_PYTHON_DEPS)",
    )?;
    if !constrained {
        // No constraints file was used: record what was installed, so image extenders can
        // still pin with `--constraint ~/constraints.txt`.
        let frozen = exec
            .capture(&with_env(pip::freeze_cmd(&venv), &env))
            .map_err(|e| InstallError::Spawn {
                program: "pip".into(),
                source: e,
            })?;
        write_atomic(
            &constraints_at,
            &format!(
                "# Installed without constraints (AIRFLOW_CONSTRAINTS_LOCATION=none); pip freeze:\n{}",
                frozen.stdout
            ),
        )?;
    }
    Ok(())
}

/// `hangar install additional`: `ADDITIONAL_PYTHON_DEPS` and the context `requirements.txt`,
/// then `pip check` and group permissions on the venv.
pub fn additional_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    paths: &Paths,
) -> Result<(), InstallError> {
    a.validate(&[
        "ADDITIONAL_PYTHON_DEPS",
        "ADDITIONAL_PIP_INSTALL_FLAGS",
        "AIRFLOW_USER_HOME_DIR",
    ])?;
    let env = step_env(a, paths);
    let venv = a.venv();
    let deps: Vec<String> = a
        .get("ADDITIONAL_PYTHON_DEPS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !deps.is_empty() {
        let opts = InstallOpts {
            upgrade_only_if_needed: true,
            ..pip_opts(a, None)
        };
        run(
            exec,
            &with_env(pip::install_cmd(&venv, &deps, &opts), &env),
            "installing ADDITIONAL_PYTHON_DEPS",
            "check the names and versions in ADDITIONAL_PYTHON_DEPS",
        )?;
    }
    let req = paths.context_files.join("requirements.txt");
    if paths.at(&req).is_file() {
        run(
            exec,
            &with_env(pip::requirements_cmd(&venv, &req, &pip_opts(a, None)), &env),
            "installing the context requirements.txt",
            "check requirements.txt in DOCKER_CONTEXT_FILES",
        )?;
    }
    if !deps.is_empty() || paths.at(&req).is_file() {
        run(
            exec,
            &with_env(pip::check_cmd(&venv), &env),
            "pip check",
            "fix the conflicting requirements listed above",
        )?;
    }
    group_like_user(&paths.at(&a.home()))
}

/// Makes group permissions equal user permissions under `dir` (`chmod -R g=u`), so any UID in
/// group 0 can use and extend the venv.
pub fn group_like_user(dir: &Path) -> Result<(), InstallError> {
    let io = |p: &Path, e| InstallError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| io(dir, e))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.mode() & 0o7777;
    let user = (mode >> 6) & 0o7;
    let new = (mode & !0o070) | (user << 3);
    if new != mode {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(new))
            .map_err(|e| io(dir, e))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            group_like_user(&entry.map_err(|e| io(dir, e))?.path())?;
        }
    }
    Ok(())
}

fn write_atomic(path: &Path, content: &str) -> Result<(), InstallError> {
    let tmp = path.with_extension("tmp");
    let io = |e| InstallError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::write(&tmp, content).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The `useradd` command of the final image's user: UID from the build arg, group 0.
pub fn useradd_cmd(uid: &str, home: &Path) -> Cmd {
    Cmd::new("useradd").args([
        "--uid",
        uid,
        "--gid",
        "0",
        "--no-create-home",
        "--home-dir",
        &home.display().to_string(),
        "--shell",
        "/bin/bash",
        "--comment",
        "Apache Airflow",
        "airflow",
    ])
}

/// `hangar install finalize` (final stage, as root): the `airflow` user (UID, group 0),
/// `AIRFLOW_HOME` with `dags/`, `logs/`, `plugins/`, group-writable `/etc/passwd` and home,
/// and `/entrypoint` pointing at the hangar binary.
pub fn finalize_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    paths: &Paths,
) -> Result<(), InstallError> {
    a.validate(&[
        "AIRFLOW_UID",
        "AIRFLOW_GID",
        "AIRFLOW_HOME",
        "AIRFLOW_USER_HOME_DIR",
    ])?;
    for w in a.warnings().iter().filter(|w| w.contains("AIRFLOW_GID")) {
        crate::exec::log(format_args!("warning: {w}"));
    }
    let uid: u32 = a
        .get("AIRFLOW_UID")
        .parse()
        .map_err(|_| InstallError::BadArg {
            name: "AIRFLOW_UID",
            problem: "not a number".into(),
            fix: "use e.g. 50000",
        })?;
    let home = a.home();
    let passwd = paths.at(Path::new("/etc/passwd"));
    let already = std::fs::read_to_string(&passwd)
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("airflow:"));
    if !already {
        run(
            exec,
            &useradd_cmd(a.get("AIRFLOW_UID"), &home),
            "creating the airflow user",
            "AIRFLOW_UID must be free in the base image",
        )?;
    }
    let io = |p: &Path, e| InstallError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let airflow_home = PathBuf::from(a.get("AIRFLOW_HOME"));
    let mut dirs = vec![home.clone(), airflow_home.clone()];
    dirs.extend(
        ["dags", "logs", "plugins"]
            .iter()
            .map(|d| airflow_home.join(d)),
    );
    for d in &dirs {
        let at = paths.at(d);
        std::fs::create_dir_all(&at).map_err(|e| io(&at, e))?;
        std::os::unix::fs::chown(&at, Some(uid), Some(0)).map_err(|e| io(&at, e))?;
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o775))
            .map_err(|e| io(&at, e))?;
    }
    if passwd.exists() {
        let mode = std::fs::metadata(&passwd)
            .map_err(|e| io(&passwd, e))?
            .mode()
            & 0o7777;
        let user = (mode >> 6) & 0o7;
        std::fs::set_permissions(
            &passwd,
            std::fs::Permissions::from_mode((mode & !0o070) | (user << 3)),
        )
        .map_err(|e| io(&passwd, e))?;
    }
    let entry = paths.at(Path::new("/entrypoint"));
    if std::fs::symlink_metadata(&entry).is_err() {
        std::os::unix::fs::symlink("/usr/local/bin/hangar", &entry).map_err(|e| io(&entry, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Finished, Recorder};

    fn paths(dir: &Path) -> Paths {
        Paths {
            root: dir.to_path_buf(),
            secrets: dir.join("run/secrets"),
            context_files: PathBuf::from("/docker-context-files"),
        }
    }

    fn ok(stdout: &str) -> Finished {
        Finished {
            code: 0,
            stdout: stdout.to_owned(),
        }
    }

    #[test]
    fn airflow_step_from_pypi_with_context_constraints() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        std::fs::create_dir_all(dir.path().join("docker-context-files")).unwrap();
        std::fs::write(
            dir.path().join("docker-context-files/c.txt"),
            "redis==5.0.0\n",
        )
        .unwrap();
        let a = BuildArgs::from_pairs(&[
            ("PYTHON_MAJOR_MINOR_VERSION", "3.11"),
            ("AIRFLOW_VERSION", "2.10.5"),
            ("AIRFLOW_EXTRAS", "postgres,celery,redis,mysql"),
            ("INSTALL_MYSQL_CLIENT", "false"),
            (
                "AIRFLOW_CONSTRAINTS_LOCATION",
                "/docker-context-files/c.txt",
            ),
            ("AIRFLOW_USER_HOME_DIR", "/home/airflow"),
        ]);
        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11\n"));
        airflow_step(&mut rec, &a, &p).unwrap();
        let shown: Vec<String> = rec.commands.iter().map(Cmd::display).collect();
        assert_eq!(shown[1], "python3 -m venv /home/airflow/.local");
        assert_eq!(
            shown[2],
            "/home/airflow/.local/bin/python -m pip install --constraint /home/airflow/constraints.txt apache-airflow[postgres,celery,redis]==2.10.5"
        );
        assert_eq!(shown[3], "/home/airflow/.local/bin/python -m pip check");
        assert_eq!(shown.len(), 4);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("home/airflow/constraints.txt")).unwrap(),
            "redis==5.0.0\n"
        );
        assert!(
            rec.commands[2]
                .env
                .contains(&("PIP_PROGRESS_BAR".into(), "off".into()))
        );
    }

    #[test]
    fn python_mismatch_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let a = BuildArgs::from_pairs(&[("PYTHON_MAJOR_MINOR_VERSION", "3.12")]);
        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11\n"));
        let err = airflow_step(&mut rec, &a, &paths(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3.11")
                && err.contains("3.12")
                && err.contains("PYTHON_MAJOR_MINOR_VERSION"),
            "{err}"
        );
        assert_eq!(rec.commands.len(), 1);
    }

    #[test]
    fn unconstrained_install_records_pip_freeze() {
        let dir = tempfile::tempdir().unwrap();
        let a = BuildArgs::from_pairs(&[
            ("PYTHON_MAJOR_MINOR_VERSION", "3.11"),
            ("AIRFLOW_CONSTRAINTS_LOCATION", "none"),
            ("AIRFLOW_EXTRAS", ""),
        ]);
        let mut rec = Recorder::default();
        rec.replies.extend([
            ok("3.11"),
            ok(""),
            ok(""),
            ok(""),
            ok("apache-airflow==3.3.2\n"),
        ]);
        airflow_step(&mut rec, &a, &paths(dir.path())).unwrap();
        assert_eq!(
            rec.commands[2].args.last().unwrap(),
            "apache-airflow==3.3.2"
        );
        assert!(!rec.commands[2].args.contains(&"--constraint".to_owned()));
        assert_eq!(
            rec.commands[4].args,
            ["-m", "pip", "freeze", "--exclude-editable"]
        );
        let c = std::fs::read_to_string(dir.path().join("home/airflow/constraints.txt")).unwrap();
        assert!(
            c.contains("apache-airflow==3.3.2") && c.starts_with('#'),
            "{c}"
        );
    }

    #[test]
    fn context_wheels_install_offline_and_missing_ones_fail() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let a = BuildArgs::from_pairs(&[
            ("PYTHON_MAJOR_MINOR_VERSION", "3.11"),
            ("AIRFLOW_VERSION", "2.10.5"),
            ("AIRFLOW_EXTRAS", "celery"),
            ("AIRFLOW_CONSTRAINTS_LOCATION", "none"),
            ("INSTALL_DISTRIBUTIONS_FROM_CONTEXT", "true"),
        ]);
        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11"));
        let err = airflow_step(&mut rec, &a, &p).unwrap_err().to_string();
        assert!(
            err.contains("DOCKER_CONTEXT_FILES") && err.contains("/docker-context-files"),
            "{err}"
        );

        let ctx = dir.path().join("docker-context-files");
        std::fs::create_dir_all(&ctx).unwrap();
        for f in [
            "apache_airflow-2.10.5-py3-none-any.whl",
            "celery-5.4.0-py3-none-any.whl",
            "apache_airflow_providers_celery-3.8.0-py3-none-any.whl",
        ] {
            std::fs::write(ctx.join(f), "").unwrap();
        }
        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11"));
        airflow_step(&mut rec, &a, &p).unwrap();
        let install = &rec.commands[2];
        assert_eq!(
            install.args,
            [
                "-m",
                "pip",
                "install",
                "--no-index",
                "--find-links",
                "/docker-context-files",
                "apache-airflow[celery]==2.10.5",
                "/docker-context-files/apache_airflow_providers_celery-3.8.0-py3-none-any.whl",
                "/docker-context-files/celery-5.4.0-py3-none-any.whl",
            ]
        );
    }

    #[test]
    fn additional_step_installs_deps_and_requirements() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        std::fs::create_dir_all(dir.path().join("docker-context-files")).unwrap();
        std::fs::write(
            dir.path().join("docker-context-files/requirements.txt"),
            "six\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("home/airflow/.local/bin")).unwrap();
        let f = dir.path().join("home/airflow/.local/bin/x");
        std::fs::write(&f, "").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o744)).unwrap();
        let a = BuildArgs::from_pairs(&[("ADDITIONAL_PYTHON_DEPS", "six  pandas==2.1.2")]);
        let mut rec = Recorder::default();
        additional_step(&mut rec, &a, &p).unwrap();
        let shown: Vec<String> = rec.commands.iter().map(Cmd::display).collect();
        assert_eq!(
            shown,
            [
                "/home/airflow/.local/bin/python -m pip install --upgrade --upgrade-strategy only-if-needed six pandas==2.1.2",
                "/home/airflow/.local/bin/python -m pip install -r /docker-context-files/requirements.txt",
                "/home/airflow/.local/bin/python -m pip check",
            ]
        );
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o774);
    }

    #[test]
    fn failing_command_names_step_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let a = BuildArgs::from_pairs(&[("ADDITIONAL_PYTHON_DEPS", "nosuchpkg")]);
        let mut rec = Recorder::default();
        rec.replies.push_back(Finished {
            code: 1,
            stdout: String::new(),
        });
        let err = additional_step(&mut rec, &a, &paths(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ADDITIONAL_PYTHON_DEPS")
                && err.contains("exit code 1")
                && err.contains("nosuchpkg"),
            "{err}"
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "full-tests"),
        ignore = "full tier: needs root to give the directories to the airflow UID"
    )]
    fn finalize_creates_user_dirs_and_entrypoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("etc/passwd"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let a = BuildArgs::from_pairs(&[("AIRFLOW_UID", "50001")]);
        let mut rec = Recorder::default();
        finalize_step(&mut rec, &a, &p).unwrap();
        assert_eq!(
            rec.commands[0].display(),
            "useradd --uid 50001 --gid 0 --no-create-home --home-dir /home/airflow --shell /bin/bash --comment 'Apache Airflow' airflow"
        );
        for d in [
            "opt/airflow/dags",
            "opt/airflow/logs",
            "opt/airflow/plugins",
            "home/airflow",
        ] {
            let m = std::fs::metadata(dir.path().join(d)).unwrap();
            assert_eq!(
                (m.uid(), m.gid(), m.mode() & 0o777),
                (50001, 0, 0o775),
                "{d}"
            );
        }
        assert_eq!(
            std::fs::metadata(dir.path().join("etc/passwd"))
                .unwrap()
                .mode()
                & 0o777,
            0o664
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("entrypoint")).unwrap(),
            PathBuf::from("/usr/local/bin/hangar")
        );
    }

    #[test]
    fn distribution_names() {
        assert!(is_airflow_distribution(
            "apache_airflow-2.10.5-py3-none-any.whl"
        ));
        assert!(is_airflow_distribution("apache-airflow-3.3.2.tar.gz"));
        assert!(!is_airflow_distribution(
            "apache_airflow_providers_celery-3.8.0-py3-none-any.whl"
        ));
        assert!(!is_airflow_distribution(
            "apache_airflow_core-3.3.2-py3-none-any.whl"
        ));
    }
}
