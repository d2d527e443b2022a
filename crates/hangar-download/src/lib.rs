//! `hangar download`: fills a folder for `docker-context-files/` so that a build needs no
//! network: the constraints file, every wheel of Airflow (with its extras and the additional
//! requirements) for the image's Python and platform, the pinned installer's own wheel, with
//! `--debs` the apt packages of both stages, and a SHA-256 manifest the build checks.
//!
//! Files are fetched into a staging folder inside the output folder and moved into place only
//! when everything was fetched; the manifest is written last (temp file + rename). A failed
//! download leaves the folder as it was.

pub mod debs;
mod error;
pub mod folder;
pub mod wheels;

use std::path::{Path, PathBuf};
use std::process::Command;

use hangar_build::in_image::InImage;
use hangar_install::apt::{self, AptInputs};
use hangar_install::args::BuildArgs;
use hangar_install::constraints::{self, Constraints};
use hangar_install::{extras, source::InstallSource, steps, uv};

pub use self::error::DownloadError;

pub use hangar_install::manifest::CONSTRAINTS;

/// What to download.
#[derive(Debug, Clone)]
pub struct Request {
    /// The build args the image will be built with (Airflow version, Python, extras, additional
    /// requirements, constraints location, clients, apt packages, `AIRFLOW_USE_UV`), with the
    /// build's defaults for those not given.
    pub args: BuildArgs,
    /// The folder to fill (created when missing).
    pub output: PathBuf,
    /// Platform tags of the wheels; empty means the build platform's manylinux tags.
    pub platforms: Vec<String>,
    /// The host Python whose pip downloads.
    pub host_python: PathBuf,
    /// With `Some`, the apt packages too, downloaded in a container of this base image.
    pub debs: Option<InImage>,
}

/// What was downloaded.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub wheels: usize,
    pub debs_dev: usize,
    pub debs_runtime: usize,
    pub constraints: bool,
    /// Files listed in the manifest.
    pub listed: usize,
    /// Installable files in the folder that no download listed (the build refuses them).
    pub unlisted: Vec<PathBuf>,
    pub bytes: u64,
    pub manifest: PathBuf,
}

/// Fills `req.output`; `log` receives one line per stage.
///
/// # Errors
/// Bad input, a wheel that does not exist for the target, a failed pip or apt download, or a
/// folder that cannot be written. The output folder is then unchanged.
pub fn download(req: &Request, log: &mut dyn FnMut(&str)) -> Result<Report, DownloadError> {
    let a = &req.args;
    let python = a.get("PYTHON_MAJOR_MINOR_VERSION");
    if wheels::abi(python).is_none() {
        return Err(DownloadError::Input {
            input: format!("--python {python}"),
            problem: "is not a major.minor version".into(),
            fix: "give e.g. --python 3.12".into(),
        });
    }
    let version = a.get("AIRFLOW_VERSION");
    if version.is_empty() {
        return Err(DownloadError::Input {
            input: "--airflow-version".into(),
            problem: "is empty".into(),
            fix: "give the Airflow release to download, e.g. --airflow-version 3.3.2".into(),
        });
    }
    std::fs::create_dir_all(&req.output).map_err(|source| DownloadError::Write {
        path: req.output.clone(),
        source,
    })?;
    let staging = tempfile::Builder::new()
        .prefix(".hangar-download-")
        .tempdir_in(&req.output)
        .map_err(|source| DownloadError::Write {
            path: req.output.clone(),
            source,
        })?;
    let stage = staging.path();
    let mut report = Report::default();

    // Constraints.
    let c = constraints::resolve(constraints::Inputs {
        location: a.get("AIRFLOW_CONSTRAINTS_LOCATION"),
        reference: a.get("AIRFLOW_CONSTRAINTS_REFERENCE"),
        repo: a.get("AIRFLOW_REPO"),
        airflow_version: version,
        python,
        github_branch: None,
    });
    let constraints_file = stage.join(CONSTRAINTS);
    match &c {
        Constraints::None => {}
        Constraints::File(p) => {
            std::fs::copy(p, &constraints_file).map_err(|e| DownloadError::Input {
                input: format!("AIRFLOW_CONSTRAINTS_LOCATION {}", p.display()),
                problem: format!("cannot be read: {e}"),
                fix: "give a readable constraints file, a URL, or `none`".into(),
            })?;
        }
        Constraints::Url(url) => {
            let cmd = constraints::download_cmd(&req.host_python, url, &constraints_file, &[]);
            run_host(&req.host_python, &cmd.args, &format!("downloading {url}")).map_err(|e| {
                match e {
                    DownloadError::Step {
                        what, status, tail, ..
                    } => DownloadError::Step {
                        what,
                        status,
                        tail,
                        fix: "give --constraints-location a file (or a reachable URL)".into(),
                    },
                    other => other,
                }
            })?;
        }
    }
    report.constraints = c != Constraints::None;
    log(&match &c {
        Constraints::None => "constraints: none (AIRFLOW_CONSTRAINTS_LOCATION=none)".to_owned(),
        Constraints::File(p) => format!("constraints: {}", p.display()),
        Constraints::Url(u) => format!("constraints: {u}"),
    });

    // Wheels.
    let clients = steps::clients(a)?;
    let extras = extras::resolve(
        a.get("AIRFLOW_EXTRAS"),
        a.get("ADDITIONAL_AIRFLOW_EXTRAS"),
        clients,
    )?;
    let mut reqs = vec![InstallSource::PyPi.requirement(
        &extras,
        &format!("=={version}"),
        Path::new("/"),
        "",
        "",
    )];
    reqs.extend(
        a.get("ADDITIONAL_PYTHON_DEPS")
            .split_whitespace()
            .map(str::to_owned),
    );
    let platforms = if req.platforms.is_empty() {
        wheels::default_platforms(std::env::consts::ARCH)
    } else {
        req.platforms.clone()
    };
    let has_own_wheels = !folder::distributions(&req.output).is_empty();
    let d = wheels::Download {
        python,
        platforms: &platforms,
        requirements: &reqs,
        constraints: report.constraints.then_some(constraints_file.as_path()),
        find_links: has_own_wheels.then_some(req.output.as_path()),
        no_deps: false,
        dest: stage,
    };
    log(&format!("wheels: {} for CPython {python}", reqs.join(" ")));
    pip_download(req, &d, &platforms)?;
    if a.flag("AIRFLOW_USE_UV")? {
        // The installer's own wheel, without the constraints (which may pin another uv).
        let uv_req = [format!("uv=={}", uv::UV_VERSION)];
        let d = wheels::Download {
            requirements: &uv_req,
            constraints: None,
            find_links: None,
            no_deps: true,
            ..d
        };
        log(&format!("installer: uv {}", uv::UV_VERSION));
        pip_download(req, &d, &platforms)?;
    }
    report.wheels = folder::distributions(stage).len();

    // Debian packages.
    if let Some(base) = &req.debs {
        let distro_python = debs::distro_python(base)?;
        for st in [apt::Stage::Dev, apt::Stage::Runtime] {
            let inputs = AptInputs {
                distro_python,
                ..steps::stage_inputs(a, st)?
            };
            let pkgs = apt::packages(st, &inputs);
            log(&format!(
                "{}: {} and their dependencies, in {}",
                st.debs_folder(),
                pkgs.join(" "),
                base.image
            ));
            let n = debs::download(base, st.name(), &pkgs, &stage.join(st.debs_folder()))?;
            match st {
                apt::Stage::Dev => report.debs_dev = n,
                apt::Stage::Runtime => report.debs_runtime = n,
            }
        }
    }

    let placed = folder::place(stage, &req.output, req.debs.is_some())?;
    report.listed = placed.listed;
    report.bytes = placed.bytes;
    report.manifest = placed.manifest;
    report.unlisted = placed.unlisted;
    Ok(report)
}

fn pip_download(
    req: &Request,
    d: &wheels::Download<'_>,
    platforms: &[String],
) -> Result<(), DownloadError> {
    let mut args = vec!["-m".to_owned(), "pip".to_owned()];
    args.extend(wheels::pip_args(d));
    match run_host(&req.host_python, &args, "pip download") {
        Err(DownloadError::Step {
            tail, status, fix, ..
        }) if fix.is_empty() => {
            if let Some(requirement) = wheels::missing_requirement(&tail) {
                return Err(DownloadError::NoWheel {
                    requirement,
                    python: d.python.to_owned(),
                    platform: platforms.first().cloned().unwrap_or_default(),
                    output: req.output.clone(),
                });
            }
            Err(DownloadError::Step {
                what: "pip download".into(),
                status,
                tail,
                fix: "check the Airflow version, extras and requirements, and that the host \
                      reaches the package index (pip's own configuration applies)"
                    .into(),
            })
        }
        other => other,
    }
}

/// Runs a host program, its output captured; a failure carries the output's last lines.
fn run_host(program: &Path, args: &[String], what: &str) -> Result<(), DownloadError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| DownloadError::Spawn {
            program: program.display().to_string(),
            fix: "hangar download needs a host Python with pip: apt-get install python3-pip",
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let no_pip = text.contains("No module named pip");
    let lines: Vec<&str> = text.lines().collect();
    Err(DownloadError::Step {
        what: what.to_owned(),
        status: out.status.to_string(),
        tail: lines[lines.len().saturating_sub(12)..].join("\n"),
        fix: if no_pip {
            "install pip for the host Python: apt-get install python3-pip".into()
        } else {
            String::new()
        },
    })
}
