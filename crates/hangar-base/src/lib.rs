//! `hangar base`: the Python base image of `hangar build`, made from Debian packages with
//! debootstrap and committed with the engine (`FROM scratch`, the root filesystem added as one
//! layer), so a site that reaches only its apt mirror, and no container registry, can build.
//!
//! [`plan`] is pure: the debootstrap command, the image's apt sources, its Dockerfile and
//! labels. [`make`] carries it out through [`System`] (debootstrap, tar) and the engine.

mod error;
pub mod mirror;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use hangar_build::engine::{self, BuildSpec, Engine, Invocation};
use hangar_build::options::ImageFormat;
use hangar_build::run::{self, Display};

pub use self::error::BaseError;
use self::mirror::Source;

/// The packages every base has: Python with venv and pip (the Dockerfile makes the venv with
/// them) and the CA certificates TLS needs.
pub const PACKAGES: [&str; 4] = ["python3", "python3-venv", "python3-pip", "ca-certificates"];

/// The Debian release of the default base.
pub const DEFAULT_SUITE: &str = "bookworm";

/// What to make.
#[derive(Debug, Clone)]
pub struct Request {
    pub suite: String,
    pub mirror: Option<String>,
    /// A snapshot.debian.org date that pins every package.
    pub snapshot: Option<String>,
    /// A corporate apt sources file: its first Debian URL is the mirror, the file is the image's
    /// apt sources.
    pub apt_sources: Option<PathBuf>,
    /// Packages added to [`PACKAGES`].
    pub packages: Vec<String>,
    pub tag: String,
    pub engine: Engine,
    pub storage_driver: Option<String>,
    pub isolation: Option<String>,
    /// `--timestamp` of buildah and podman (`SOURCE_DATE_EPOCH`).
    pub timestamp: Option<String>,
}

/// The default tag of a base of `suite`.
#[must_use]
pub fn default_tag(suite: &str) -> String {
    format!("localhost/hangar-python-base:{suite}")
}

/// The resolved plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: Source,
    /// debootstrap's arguments after the program, with the root filesystem as `ROOTFS`.
    pub debootstrap: Vec<String>,
    /// `LABEL` pairs of the image.
    pub labels: Vec<(String, String)>,
}

/// Placeholder of the root filesystem in [`Plan::debootstrap`].
pub const ROOTFS: &str = "ROOTFS";

/// A package name as Debian allows it.
fn valid_package(p: &str) -> bool {
    p.len() >= 2
        && p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// Resolves `req` into the commands and files of the build.
///
/// # Errors
/// A malformed suite, package, mirror, snapshot date or sources file.
pub fn plan(req: &Request) -> Result<Plan, BaseError> {
    if req.suite.is_empty()
        || !req
            .suite
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-')
    {
        return Err(BaseError::Input {
            input: format!("--suite {}", req.suite),
            problem: "not a Debian release name".into(),
            fix: format!("give a codename such as {DEFAULT_SUITE}"),
        });
    }
    if let Some(bad) = req.packages.iter().find(|p| !valid_package(p)) {
        return Err(BaseError::Input {
            input: format!("--package {bad}"),
            problem: "not a Debian package name".into(),
            fix: "give names as `apt-get install` takes them (lower case, digits, + - .)".into(),
        });
    }
    let source = mirror::resolve(
        &req.suite,
        req.mirror.as_deref(),
        req.snapshot.as_deref(),
        req.apt_sources.as_deref(),
    )?;
    let mut include: Vec<&str> = PACKAGES.to_vec();
    include.extend(req.packages.iter().map(String::as_str));
    let debootstrap = vec![
        "--variant=minbase".to_owned(),
        "--components=main".to_owned(),
        format!("--include={}", include.join(",")),
        req.suite.clone(),
        ROOTFS.to_owned(),
        source.mirror.clone(),
    ];
    let mut labels = vec![
        ("io.hangar.base.suite".to_owned(), req.suite.clone()),
        (
            "io.hangar.base.mirror".to_owned(),
            mirror::without_credentials(&source.mirror),
        ),
    ];
    if let Some(stamp) = &source.snapshot {
        labels.push(("io.hangar.base.snapshot".to_owned(), stamp.clone()));
    }
    Ok(Plan {
        source,
        debootstrap,
        labels,
    })
}

/// The Dockerfile that commits the root filesystem (`rootfs.tar` beside it) as the image.
#[must_use]
pub fn dockerfile(plan: &Plan, python: &str) -> String {
    let mut s = String::from("FROM scratch\nADD rootfs.tar /\n");
    let mut labels = plan.labels.clone();
    labels.push(("io.hangar.base.python".to_owned(), python.to_owned()));
    s.push_str("LABEL");
    for (k, v) in &labels {
        s.push_str(&format!(" {k}=\"{}\"", v.replace('"', "")));
    }
    s.push_str("\nENV LANG=C.UTF-8\nCMD [\"python3\"]\n");
    s
}

/// The `MAJOR.MINOR` of the `python3.X` interpreter in `rootfs/usr/bin`.
#[must_use]
pub fn python_version(rootfs: &Path) -> Option<String> {
    let mut found: Vec<(u32, String)> = std::fs::read_dir(rootfs.join("usr/bin"))
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let minor = name.strip_prefix("python3.")?;
            minor.parse::<u32>().ok().map(|m| (m, format!("3.{minor}")))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, v)| v)
}

/// The side effects of [`make`] besides the engine: behind a trait so the sequence is
/// unit-tested.
pub trait System {
    /// True when the process runs as root.
    fn is_root(&self) -> bool;
    /// Runs `program args…`; `what` and `fix` name the step in an error.
    ///
    /// # Errors
    /// The program cannot start or exits non-zero.
    fn run(
        &mut self,
        program: &str,
        args: &[OsString],
        what: &str,
        fix: &str,
    ) -> Result<(), BaseError>;
}

/// The real system: programs run with their output captured for the error.
#[derive(Debug, Default)]
pub struct RealSystem;

impl System for RealSystem {
    fn is_root(&self) -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn run(
        &mut self,
        program: &str,
        args: &[OsString],
        what: &str,
        fix: &str,
    ) -> Result<(), BaseError> {
        let out = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| BaseError::Spawn {
                program: program.to_owned(),
                package: if program == "debootstrap" {
                    "debootstrap"
                } else {
                    "tar"
                },
                source,
            })?;
        if out.status.success() {
            return Ok(());
        }
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        Err(BaseError::Step {
            what: what.to_owned(),
            status: out.status.to_string(),
            tail: lines[lines.len().saturating_sub(8)..].join(" | "),
            fix: fix.to_owned(),
        })
    }
}

fn write(path: &Path, text: &str) -> Result<(), BaseError> {
    std::fs::write(path, text).map_err(|source| BaseError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The image's apt sources: the plan's file in `sources.list.d`, no `sources.list`, no
/// package lists or caches left from debootstrap.
fn settle_apt(rootfs: &Path, source: &Source) -> Result<(), BaseError> {
    let apt = rootfs.join("etc/apt");
    let _ = std::fs::remove_file(apt.join("sources.list"));
    let dir = apt.join("sources.list.d");
    std::fs::create_dir_all(&dir).map_err(|source| BaseError::Write {
        path: dir.clone(),
        source,
    })?;
    write(&dir.join(&source.sources_file.0), &source.sources_file.1)?;
    for leftover in ["var/lib/apt/lists", "var/cache/apt/archives"] {
        if let Ok(entries) = std::fs::read_dir(rootfs.join(leftover)) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    Ok(())
}

/// What [`make`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub image_id: String,
    /// `MAJOR.MINOR` of the image's Python, for `hangar build --python`.
    pub python: String,
}

/// Makes the base image of `req`: debootstrap into a temporary root filesystem, the image's
/// apt sources, one tar, and an engine build `FROM scratch` tagging `req.tag` only when it
/// succeeds. The temporary files are removed whatever happens.
///
/// # Errors
/// Not root, a bad input, debootstrap or tar failing, or the engine failing.
pub fn make(req: &Request, sys: &mut dyn System, display: Display) -> Result<Made, BaseError> {
    let plan = plan(req)?;
    if !sys.is_root() {
        return Err(BaseError::NotRoot);
    }
    let work = tempfile::Builder::new()
        .prefix("hangar-base-")
        .tempdir()
        .map_err(|source| BaseError::Write {
            path: std::env::temp_dir(),
            source,
        })?;
    let rootfs = work.path().join("rootfs");
    let context = work.path().join("context");
    for d in [&rootfs, &context] {
        std::fs::create_dir_all(d).map_err(|source| BaseError::Write {
            path: d.clone(),
            source,
        })?;
    }
    let args: Vec<OsString> = plan
        .debootstrap
        .iter()
        .map(|a| {
            if a == ROOTFS {
                rootfs.clone().into_os_string()
            } else {
                a.into()
            }
        })
        .collect();
    sys.run(
        "debootstrap",
        &args,
        &format!(
            "debootstrap of {} from {}",
            req.suite,
            mirror::without_credentials(&plan.source.mirror)
        ),
        "check that the mirror serves this release (and the package names given with --package)",
    )?;
    settle_apt(&rootfs, &plan.source)?;
    let python = python_version(&rootfs).ok_or_else(|| BaseError::Step {
        what: "finding python3 in the new root filesystem".into(),
        status: "no /usr/bin/python3.X".into(),
        tail: String::new(),
        fix: "the release must provide python3".into(),
    })?;
    let tar: Vec<OsString> = vec![
        "--numeric-owner".into(),
        "-C".into(),
        rootfs.clone().into_os_string(),
        "-cf".into(),
        context.join("rootfs.tar").into_os_string(),
        ".".into(),
    ];
    sys.run(
        "tar",
        &tar,
        "packing the root filesystem",
        "check the free space of TMPDIR",
    )?;
    write(&context.join("Dockerfile"), &dockerfile(&plan, &python))?;
    let inv = Invocation {
        engine: req.engine,
        spec: BuildSpec {
            build_args: Vec::new(),
            secrets: Vec::new(),
            tags: vec![req.tag.clone()],
            target: None,
            format: ImageFormat::Docker,
            storage_driver: req.storage_driver.clone(),
            platform: None,
            isolation: req.isolation.clone(),
            timestamp: req.timestamp.clone(),
            engine_args: Vec::new(),
        },
        dockerfile: context.join("Dockerfile"),
        iidfile: work.path().join("image-id"),
        context: context.clone(),
    };
    run::run(req.engine, &engine::argv(&inv), display)?;
    let image_id = std::fs::read_to_string(&inv.iidfile)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    Ok(Made { image_id, python })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            suite: DEFAULT_SUITE.into(),
            mirror: None,
            snapshot: None,
            apt_sources: None,
            packages: vec!["tzdata".into()],
            tag: default_tag(DEFAULT_SUITE),
            engine: Engine::Buildah,
            storage_driver: None,
            isolation: None,
            timestamp: None,
        }
    }

    #[test]
    fn the_plan_names_every_package_and_the_source() {
        let p = plan(&request()).unwrap();
        assert_eq!(
            p.debootstrap,
            [
                "--variant=minbase",
                "--components=main",
                "--include=python3,python3-venv,python3-pip,ca-certificates,tzdata",
                "bookworm",
                "ROOTFS",
                "http://deb.debian.org/debian"
            ]
        );
        let d = dockerfile(&p, "3.11");
        assert!(
            d.starts_with(
                "FROM scratch\nADD rootfs.tar /\nLABEL io.hangar.base.suite=\"bookworm\""
            ),
            "{d}"
        );
        assert!(d.contains("io.hangar.base.python=\"3.11\""), "{d}");
        assert!(d.ends_with("CMD [\"python3\"]\n"), "{d}");
        assert_eq!(default_tag("trixie"), "localhost/hangar-python-base:trixie");
    }

    #[test]
    fn bad_inputs_are_named() {
        let mut r = request();
        r.suite = "Bookworm;".into();
        assert!(
            plan(&r)
                .unwrap_err()
                .to_string()
                .contains("--suite Bookworm;")
        );
        let mut r = request();
        r.packages = vec!["vim; rm -rf /".into()];
        assert!(
            plan(&r)
                .unwrap_err()
                .to_string()
                .contains("--package vim; rm -rf /")
        );
    }

    struct Fake {
        root: bool,
        calls: Vec<String>,
    }

    impl System for Fake {
        fn is_root(&self) -> bool {
            self.root
        }
        fn run(
            &mut self,
            program: &str,
            args: &[OsString],
            _: &str,
            _: &str,
        ) -> Result<(), BaseError> {
            self.calls.push(program.to_owned());
            if program == "debootstrap" {
                // A root filesystem with a Python, as debootstrap leaves it.
                let rootfs = PathBuf::from(&args[4]);
                std::fs::create_dir_all(rootfs.join("usr/bin")).unwrap();
                std::fs::write(rootfs.join("usr/bin/python3.11"), "").unwrap();
                std::fs::create_dir_all(rootfs.join("etc/apt")).unwrap();
                std::fs::write(rootfs.join("etc/apt/sources.list"), "deb x").unwrap();
                return Err(BaseError::Step {
                    what: "stop here".into(),
                    status: String::new(),
                    tail: std::fs::read_to_string(rootfs.join("etc/apt/sources.list")).unwrap(),
                    fix: String::new(),
                });
            }
            Ok(())
        }
    }

    #[test]
    fn only_root_can_make_a_base_and_a_failed_step_stops_it() {
        let mut not_root = Fake {
            root: false,
            calls: Vec::new(),
        };
        assert!(matches!(
            make(&request(), &mut not_root, Display::Plain),
            Err(BaseError::NotRoot)
        ));
        assert!(not_root.calls.is_empty());
        let mut root = Fake {
            root: true,
            calls: Vec::new(),
        };
        let e = make(&request(), &mut root, Display::Plain).unwrap_err();
        assert!(e.to_string().contains("stop here"), "{e}");
        assert_eq!(
            root.calls,
            ["debootstrap"],
            "nothing runs after a failed step"
        );
    }

    #[test]
    fn apt_is_left_with_the_plans_sources_only() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path();
        std::fs::create_dir_all(rootfs.join("etc/apt")).unwrap();
        std::fs::write(
            rootfs.join("etc/apt/sources.list"),
            "deb http://x bookworm main\n",
        )
        .unwrap();
        std::fs::create_dir_all(rootfs.join("var/lib/apt/lists")).unwrap();
        std::fs::write(rootfs.join("var/lib/apt/lists/x_Packages"), "p").unwrap();
        std::fs::create_dir_all(rootfs.join("usr/bin")).unwrap();
        for p in ["python3.9", "python3.11", "python3.11-config"] {
            std::fs::write(rootfs.join("usr/bin").join(p), "").unwrap();
        }
        let p = plan(&request()).unwrap();
        settle_apt(rootfs, &p.source).unwrap();
        assert!(!rootfs.join("etc/apt/sources.list").exists());
        assert!(!rootfs.join("var/lib/apt/lists/x_Packages").exists());
        let sources =
            std::fs::read_to_string(rootfs.join("etc/apt/sources.list.d/debian.sources")).unwrap();
        assert!(
            sources.contains("URIs: http://deb.debian.org/debian"),
            "{sources}"
        );
        assert_eq!(python_version(rootfs).as_deref(), Some("3.11"));
    }
}
