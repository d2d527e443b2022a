//! `hangar install airflow`: the virtualenv, the constraints file and Airflow itself, from
//! the package index, a path, a URL or the context files.

use std::path::{Path, PathBuf};

use super::{Paths, clients, group_like_user, installer, pip_opts, run, step_env, with_env};
use crate::InstallError;
use crate::args::BuildArgs;
use crate::constraints::{self, Constraints};
use crate::exec::Exec;
use crate::extras;
use crate::pip::{self, InstallOpts};
use crate::source::InstallSource;
use crate::usersite;
use crate::{manifest, uv};

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
    "AIRFLOW_USE_UV",
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

/// `name==version` of a wheel file name (`name-version-tags.whl`), if it is one.
fn wheel_requirement(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".whl")?;
    let mut parts = stem.splitn(3, '-');
    let (name, version) = (parts.next()?, parts.next()?);
    (!name.is_empty() && !version.is_empty() && parts.next().is_some())
        .then(|| format!("{name}=={version}"))
}

/// `hangar install airflow`: checks Python, creates the venv, puts the constraints in place
/// and installs Airflow (from the index, a path, a URL or the context files), then lets
/// `pip install --user` work in the venv and makes group permissions equal the user's in the
/// airflow user's home.
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
    let from_context = super::from_context(a)?;
    // Before anything from the folder runs, uv's wheel included.
    if from_context
        && paths.at(&paths.context_files).is_dir()
        && let Some(n) = manifest::verify(&paths.at(&paths.context_files))?
    {
        crate::exec::log(format_args!(
            "context files: {n} files match {}",
            manifest::MANIFEST
        ));
    }
    let env = step_env(a, paths);
    let _pypirc = super::place_pypirc(paths)?;
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

    let (tool, env) = installer(exec, a, paths, &env)?;

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
    // A downloaded folder brings its constraints: the default location (on GitHub) would
    // need the network.
    let downloaded = paths.context_files.join(manifest::CONSTRAINTS);
    let from_download = from_context
        && paths
            .at(&paths.context_files.join(manifest::MANIFEST))
            .is_file()
        && paths.at(&downloaded).is_file();
    let downloaded = downloaded.display().to_string();
    let location = match a.get("AIRFLOW_CONSTRAINTS_LOCATION") {
        "" if from_download => downloaded.as_str(),
        given => given,
    };
    let c = constraints::resolve(constraints::Inputs {
        location,
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
        let use_uv = a.flag("AIRFLOW_USE_UV")?;
        d.iter()
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
            // The pinned uv's wheel is the installer's, not the image's.
            .filter(|n| !(use_uv && uv::is_pinned_uv_wheel(n)))
            .map(|n| ctx.join(n))
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
        // Wheels by name and version, found through --find-links: installed like from an
        // index (no `file://` origin in the metadata, no per-file cache record with the
        // install time), so the venv is the same on every build. Sdists by path.
        reqs.extend(
            dists
                .iter()
                .filter(|p| {
                    !p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(is_airflow_distribution)
                })
                .map(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(wheel_requirement)
                        .unwrap_or_else(|| p.display().to_string())
                }),
        );
        let opts = InstallOpts {
            find_links: Some(ctx),
            ..pip_opts(a, constraints_opt)
        };
        run(
            exec,
            &with_env(tool.install_cmd(&venv, &reqs, &opts), &env),
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
                tool.install_cmd(&venv, &[req], &pip_opts(a, constraints_opt)),
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
                &with_env(tool.install_cmd(&venv, &reqs, &opts), &env),
                "installing the context distributions",
                "check the wheels in DOCKER_CONTEXT_FILES",
            )?;
        }
    }
    run(
        exec,
        &with_env(tool.check_cmd(&venv), &env),
        &format!("{} check", tool.name()),
        "fix the conflicting requirements listed above (constraints or ADDITIONAL_PYTHON_DEPS)",
    )?;
    if !constrained {
        // No constraints file was used: record what was installed, so image extenders can
        // still pin with `--constraint ~/constraints.txt`.
        let frozen = exec
            .capture(&with_env(tool.freeze_cmd(&venv), &env))
            .map_err(|e| InstallError::Spawn {
                program: tool.name().into(),
                source: e,
            })?;
        write_atomic(
            &constraints_at,
            &format!(
                "# Installed without constraints (AIRFLOW_CONSTRAINTS_LOCATION=none); {} freeze:\n{}",
                tool.name(),
                frozen.stdout
            ),
        )?;
    }
    usersite::enable_user_site(&paths.at(&venv))?;
    // Group permissions as the user's now, so the Airflow layer the final image copies is
    // already right and the additional step's layer carries only what it changed.
    group_like_user(&paths.at(&home))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Cmd, Recorder};
    use crate::steps::testing::{ok, paths};

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
            ("AIRFLOW_USE_UV", "false"),
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
    fn airflow_step_with_uv_fetches_uv_and_translates_pip_conf() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let secrets = dir.path().join("run/secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(
            secrets.join("pip-conf"),
            "[global]\nindex-url = https://mirror.corp/simple\n",
        )
        .unwrap();
        std::fs::write(secrets.join("netrc"), "machine mirror.corp\n").unwrap();
        let a = BuildArgs::from_pairs(&[
            ("PYTHON_MAJOR_MINOR_VERSION", "3.11"),
            ("AIRFLOW_VERSION", "3.3.2"),
            ("AIRFLOW_EXTRAS", "postgres"),
            ("AIRFLOW_CONSTRAINTS_LOCATION", "none"),
        ]);
        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11\n"));
        airflow_step(&mut rec, &a, &p).unwrap();
        let shown: Vec<String> = rec.commands.iter().map(Cmd::display).collect();
        let uv = crate::uv::uv_bin(&p.cache).display().to_string();
        assert_eq!(
            shown[2],
            format!(
                "/home/airflow/.local/bin/python -m pip install --upgrade --no-deps --target /var/cache/hangar/uv-{v}-{arch} uv=={v}",
                v = crate::uv::UV_VERSION,
                arch = std::env::consts::ARCH
            )
        );
        assert_eq!(
            shown[3..],
            [
                format!(
                    "{uv} pip install --python /home/airflow/.local/bin/python apache-airflow[postgres]==3.3.2"
                ),
                format!("{uv} pip check --python /home/airflow/.local/bin/python"),
                format!(
                    "{uv} pip freeze --python /home/airflow/.local/bin/python --exclude-editable"
                ),
            ]
        );
        // pip fetches uv with pip's settings; uv gets them translated, netrc as it is.
        let has = |i: usize, k: &str, v: &str| rec.commands[i].env.contains(&(k.into(), v.into()));
        let conf = secrets.join("pip-conf").display().to_string();
        assert!(has(2, "PIP_CONFIG_FILE", &conf));
        assert!(has(2, "PIP_CACHE_DIR", "/var/cache/hangar/pip"));
        assert!(has(3, "UV_INDEX_URL", "https://mirror.corp/simple"));
        assert!(has(3, "UV_CACHE_DIR", "/var/cache/hangar/uv"));
        assert!(has(
            3,
            "NETRC",
            &secrets.join("netrc").display().to_string()
        ));
        let c = std::fs::read_to_string(dir.path().join("home/airflow/constraints.txt")).unwrap();
        assert!(c.contains("uv freeze"), "{c}");
    }

    #[test]
    fn use_uv_must_be_a_boolean() {
        let dir = tempfile::tempdir().unwrap();
        let a = BuildArgs::from_pairs(&[
            ("PYTHON_MAJOR_MINOR_VERSION", "3.11"),
            ("AIRFLOW_USE_UV", "yes"),
        ]);
        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11"));
        let err = airflow_step(&mut rec, &a, &paths(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("AIRFLOW_USE_UV"), "{err}");
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
            ("AIRFLOW_USE_UV", "false"),
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
            ("AIRFLOW_USE_UV", "false"),
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
            "extra-0.1.tar.gz",
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
                "apache_airflow_providers_celery==3.8.0",
                "celery==5.4.0",
                "/docker-context-files/extra-0.1.tar.gz",
            ]
        );
    }

    #[test]
    fn a_downloaded_folder_is_checked_and_its_uv_wheel_bootstraps_uv_offline() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let a = BuildArgs::from_pairs(&[
            ("AIRFLOW_USE_UV", "true"),
            ("PYTHON_MAJOR_MINOR_VERSION", "3.11"),
            ("AIRFLOW_VERSION", "3.3.2"),
            ("AIRFLOW_EXTRAS", "celery"),
            ("AIRFLOW_LOCAL_PIP_WHEELS", "true"),
        ]);
        let ctx = dir.path().join("docker-context-files");
        std::fs::create_dir_all(&ctx).unwrap();
        let uv_wheel = format!("uv-{}-py3-none-manylinux_2_17_x86_64.whl", uv::UV_VERSION);
        let files = [
            "apache_airflow-3.3.2-py3-none-any.whl".to_owned(),
            "celery-5.4.0-py3-none-any.whl".to_owned(),
            uv_wheel.clone(),
            manifest::CONSTRAINTS.to_owned(),
        ];
        let mut entries = Vec::new();
        for f in &files {
            std::fs::write(ctx.join(f), f.as_bytes()).unwrap();
            entries.push((f.clone(), manifest::sha256_file(&ctx.join(f)).unwrap()));
        }
        std::fs::write(ctx.join(manifest::MANIFEST), manifest::render(&entries)).unwrap();

        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11"));
        airflow_step(&mut rec, &a, &p).unwrap();
        let shown: Vec<String> = rec.commands.iter().map(Cmd::display).collect();
        assert!(
            shown[2].contains("--no-index --find-links /docker-context-files uv=="),
            "{shown:?}"
        );
        assert!(shown[3].contains("--no-index"), "{shown:?}");
        assert!(shown[3].ends_with(" celery==5.4.0"), "{shown:?}");
        assert!(!shown[3].contains(&uv_wheel), "{shown:?}");
        assert!(
            shown[3].contains("--constraint /home/airflow/constraints.txt"),
            "{shown:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("home/airflow/constraints.txt")).unwrap(),
            manifest::CONSTRAINTS
        );

        std::fs::write(ctx.join("celery-5.4.0-py3-none-any.whl"), "changed").unwrap();
        let mut rec = Recorder::default();
        rec.replies.push_back(ok("3.11"));
        let err = airflow_step(&mut rec, &a, &p).unwrap_err().to_string();
        assert!(
            err.contains("celery-5.4.0-py3-none-any.whl") && err.contains("checksum"),
            "{err}"
        );
        assert_eq!(rec.commands.len(), 1, "nothing ran: {:?}", rec.commands);
    }

    #[test]
    fn wheel_file_names_become_requirements() {
        assert_eq!(
            wheel_requirement("apache_airflow_providers_celery-3.8.0-py3-none-any.whl").as_deref(),
            Some("apache_airflow_providers_celery==3.8.0")
        );
        assert_eq!(
            wheel_requirement("torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl").as_deref(),
            Some("torch==2.5.1+cpu")
        );
        assert_eq!(wheel_requirement("celery-5.4.0.tar.gz"), None);
        assert_eq!(wheel_requirement("broken.whl"), None);
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
