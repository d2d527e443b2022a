//! The catalogue of build args the root `Dockerfile` understands: name, default, stage,
//! effect and status, plus per-arg syntax checks shared by the in-build steps and the
//! `hangar build` front end.
//!
//! The catalogue is the single source of truth: `docs/build-args.md` is checked against it by
//! a unit test, and the Dockerfile's `ARG` lines are checked against it too.

use std::fmt;

/// Where an arg is declared and used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Declared before the first `FROM` (used in `FROM` lines or by every stage).
    Global,
    /// The `airflow-build-image` stage (compilers, dev apt deps, the venv).
    Build,
    /// The `main` stage (runtime apt deps, user, labels).
    Final,
    /// Read by both stages.
    BuildAndFinal,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Global => "global",
            Stage::Build => "build",
            Stage::Final => "final",
            Stage::BuildAndFinal => "build + final",
        })
    }
}

/// Whether an arg is today's name, an older name still honoured, or accepted but ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A current name with a current meaning.
    Current,
    /// An older name that still works; `replaced_by` is the name to use today.
    Legacy { replaced_by: &'static str },
    /// Accepted for compatibility, has no effect; the build warns when it is set.
    NoOp { reason: &'static str },
}

/// One build arg of the root `Dockerfile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildArg {
    pub name: &'static str,
    pub default: &'static str,
    pub stage: Stage,
    pub effect: &'static str,
    pub status: Status,
}

/// The latest Apache Airflow release on PyPI when this catalogue was last updated.
pub const DEFAULT_AIRFLOW_VERSION: &str = "3.3.2";
/// Default Python `major.minor` of the image.
pub const DEFAULT_PYTHON_VERSION: &str = "3.12";
/// Default base image: Debian bookworm with python.org's Python.
pub const DEFAULT_PYTHON_BASE_IMAGE: &str = "python:3.12-slim-bookworm";
/// Upstream's current default extras of the production image.
pub const DEFAULT_AIRFLOW_EXTRAS: &str = "aiobotocore,amazon,async,celery,cncf-kubernetes,common-io,\
common-messaging,docker,elasticsearch,fab,ftp,git,google,google-auth,graphviz,grpc,hashicorp,http,ldap,\
microsoft-azure,mysql,odbc,openlineage,opensearch,pandas,postgres,redis,sendgrid,sftp,slack,snowflake,ssh,\
statsd,uv";
/// The value of `AIRFLOW_CONSTRAINTS_LOCATION` that installs without any constraints file.
pub const CONSTRAINTS_NONE: &str = "none";

use Stage::{Build, BuildAndFinal, Final, Global};
use Status::Current;

const fn arg(
    name: &'static str,
    default: &'static str,
    stage: Stage,
    status: Status,
    effect: &'static str,
) -> BuildArg {
    BuildArg {
        name,
        default,
        stage,
        effect,
        status,
    }
}

static CATALOGUE: &[BuildArg] = &[
    // Base image and the hangar binary.
    arg(
        "PYTHON_BASE_IMAGE",
        DEFAULT_PYTHON_BASE_IMAGE,
        Global,
        Current,
        "Base image of both stages: any Debian-based image with `python3` on PATH (python.org's slim images or Debian with distro python3).",
    ),
    arg(
        "PYTHON_MAJOR_MINOR_VERSION",
        DEFAULT_PYTHON_VERSION,
        Global,
        Current,
        "Python version the base image must provide; the build checks `python3` against it and fails on a mismatch. Also selects the constraints file.",
    ),
    arg(
        "HANGAR_BINARY_SOURCE",
        "build",
        Global,
        Current,
        "Where `/entrypoint` comes from: `build` compiles hangar from the repository in `RUST_IMAGE`; `context` copies `.hangar/hangar` from the build context (what `hangar build` does). buildah/podman need it passed explicitly.",
    ),
    arg(
        "RUST_IMAGE",
        "rust:1-slim-bookworm",
        Global,
        Current,
        "Rust toolchain image used when `HANGAR_BINARY_SOURCE=build`.",
    ),
    // What Airflow to install.
    arg(
        "AIRFLOW_VERSION",
        DEFAULT_AIRFLOW_VERSION,
        Global,
        Current,
        "Airflow version installed from PyPI (`apache-airflow==VERSION`); also picks the constraints reference `constraints-VERSION`. Empty installs without a version pin.",
    ),
    arg(
        "AIRFLOW_EXTRAS",
        DEFAULT_AIRFLOW_EXTRAS,
        Global,
        Current,
        "Comma-separated extras of `apache-airflow`.",
    ),
    arg(
        "ADDITIONAL_AIRFLOW_EXTRAS",
        "",
        Global,
        Current,
        "Extras appended to `AIRFLOW_EXTRAS` (duplicates removed).",
    ),
    arg(
        "AIRFLOW_INSTALLATION_METHOD",
        "apache-airflow",
        Build,
        Current,
        "What pip installs: `apache-airflow` (PyPI), a path in the build stage (`.` or `AIRFLOW_SOURCES_TO`: a source tree, sdist or wheel) or an archive URL (`https://...tar.gz`, optionally `apache-airflow @ URL`).",
    ),
    arg(
        "INSTALL_AIRFLOW_VIA_PIP",
        "true",
        Build,
        Status::Legacy {
            replaced_by: "INSTALL_DISTRIBUTIONS_FROM_CONTEXT",
        },
        "`false` skips installing Airflow by `AIRFLOW_INSTALLATION_METHOD`; Airflow must then come from the context files.",
    ),
    arg(
        "AIRFLOW_INSTALL_SOURCES",
        "",
        Build,
        Status::Legacy {
            replaced_by: "AIRFLOW_INSTALLATION_METHOD",
        },
        "When set, used instead of `AIRFLOW_INSTALLATION_METHOD`.",
    ),
    arg(
        "AIRFLOW_INSTALL_VERSION",
        "",
        Build,
        Status::Legacy {
            replaced_by: "AIRFLOW_VERSION",
        },
        "When set, a version specifier (e.g. `==2.10.5`) used instead of `==AIRFLOW_VERSION`.",
    ),
    arg(
        "AIRFLOW_REPO",
        "apache/airflow",
        Build,
        Current,
        "GitHub repository of the constraints files (and of `AIRFLOW_BRANCH` archives).",
    ),
    arg(
        "AIRFLOW_BRANCH",
        "main",
        Build,
        Current,
        "Branch whose GitHub archive is installed when `AIRFLOW_INSTALLATION_METHOD=github`; its constraints branch is `constraints-BRANCH`.",
    ),
    arg(
        "AIRFLOW_SOURCES_FROM",
        "Dockerfile",
        Build,
        Current,
        "Context path copied into the build stage at `AIRFLOW_SOURCES_TO` (an Airflow source tree, sdist or wheel for local-source installs).",
    ),
    arg(
        "AIRFLOW_SOURCES_TO",
        "/Dockerfile",
        Build,
        Current,
        "Where `AIRFLOW_SOURCES_FROM` lands in the build stage (never copied to the final image).",
    ),
    // Constraints.
    arg(
        "AIRFLOW_CONSTRAINTS_REFERENCE",
        "",
        Build,
        Current,
        "Git reference of the constraints file; empty means `constraints-AIRFLOW_VERSION` (or `constraints-main` without a version).",
    ),
    arg(
        "AIRFLOW_CONSTRAINTS_LOCATION",
        "",
        Build,
        Current,
        "Constraints file: empty = `https://raw.githubusercontent.com/AIRFLOW_REPO/REFERENCE/constraints-PYTHON.txt`; an `http(s)://` URL; a path (e.g. `/docker-context-files/constraints-3.12.txt`); or `none` to install without constraints. An unreachable file fails the build.",
    ),
    // Python dependencies.
    arg(
        "ADDITIONAL_PYTHON_DEPS",
        "",
        Build,
        Current,
        "Space-separated extra requirements installed after Airflow, in their own layer (changing them reuses the Airflow layer).",
    ),
    arg(
        "ADDITIONAL_PIP_INSTALL_FLAGS",
        "",
        Build,
        Current,
        "Extra flags added to every `pip install` of the build (e.g. `--no-binary lxml`).",
    ),
    arg(
        "DOCKER_CONTEXT_FILES",
        "Dockerfile",
        Build,
        Current,
        "Context folder mounted (never copied) at `/docker-context-files` in the build stage: wheels, sdists, constraints, `requirements.txt`, `pip.conf`. The default (a file) means none.",
    ),
    arg(
        "INSTALL_DISTRIBUTIONS_FROM_CONTEXT",
        "false",
        Build,
        Current,
        "`true` installs the wheels and sdists of `/docker-context-files` offline (`--no-index --find-links`), Airflow included when present.",
    ),
    arg(
        "AIRFLOW_LOCAL_PIP_WHEELS",
        "false",
        Build,
        Status::Legacy {
            replaced_by: "INSTALL_DISTRIBUTIONS_FROM_CONTEXT",
        },
        "`true` behaves as `INSTALL_DISTRIBUTIONS_FROM_CONTEXT=true`.",
    ),
    arg(
        "AIRFLOW_PRE_CACHED_PIP_PACKAGES",
        "false",
        Build,
        Status::NoOp {
            reason: "the Airflow install has its own layer, reused when only later inputs change, so no pre-cache step is needed",
        },
        "None; the build warns when it is `true`.",
    ),
    arg(
        "CASS_DRIVER_BUILD_CONCURRENCY",
        "8",
        Build,
        Current,
        "Parallel jobs when pip compiles `cassandra-driver`.",
    ),
    arg(
        "SLUGIFY_USES_TEXT_UNIDECODE",
        "",
        Build,
        Status::NoOp {
            reason: "only Airflow 1.10 depended on python-slugify's GPL choice",
        },
        "None; the build warns when it is set.",
    ),
    arg(
        "AIRFLOW_WWW",
        "",
        Build,
        Status::NoOp {
            reason: "Airflow's web assets ship pre-built in the PyPI distributions",
        },
        "None; the build warns when it is set.",
    ),
    // Apt.
    arg(
        "DEV_APT_DEPS",
        "",
        Build,
        Current,
        "Apt packages of the build stage; empty = the built-in list (build-essential and -dev headers).",
    ),
    arg(
        "ADDITIONAL_DEV_APT_DEPS",
        "",
        Build,
        Current,
        "Apt packages added to `DEV_APT_DEPS`.",
    ),
    arg(
        "DEV_APT_COMMAND",
        "",
        Build,
        Current,
        "Shell command run (with `sh -eu -c`) before the build-stage apt install, e.g. to add an apt repository.",
    ),
    arg(
        "ADDITIONAL_DEV_APT_COMMAND",
        "",
        Build,
        Current,
        "Shell command run after `DEV_APT_COMMAND`.",
    ),
    arg(
        "ADDITIONAL_DEV_APT_ENV",
        "",
        Build,
        Current,
        "Space-separated `KEY=VALUE` pairs set for the build-stage apt commands (e.g. `ACCEPT_EULA=Y`).",
    ),
    arg(
        "RUNTIME_APT_DEPS",
        "",
        Final,
        Current,
        "Apt packages of the final image; empty = the built-in runtime list (no compilers).",
    ),
    arg(
        "ADDITIONAL_RUNTIME_APT_DEPS",
        "",
        Final,
        Current,
        "Apt packages added to `RUNTIME_APT_DEPS`.",
    ),
    arg(
        "RUNTIME_APT_COMMAND",
        "",
        Final,
        Current,
        "Shell command run (with `sh -eu -c`) before the final-stage apt install.",
    ),
    arg(
        "ADDITIONAL_RUNTIME_APT_COMMAND",
        "",
        Final,
        Current,
        "Shell command run after `RUNTIME_APT_COMMAND`.",
    ),
    arg(
        "ADDITIONAL_RUNTIME_APT_ENV",
        "",
        Final,
        Current,
        "Space-separated `KEY=VALUE` pairs set for the final-stage apt commands.",
    ),
    arg(
        "INSTALL_MYSQL_CLIENT",
        "true",
        BuildAndFinal,
        Current,
        "`true` installs Debian's MariaDB client libraries (dev headers in the build stage, `libmariadb3` and `mariadb-client` in the final image); `false` skips them and drops the `mysql` extra.",
    ),
    arg(
        "INSTALL_POSTGRES_CLIENT",
        "true",
        BuildAndFinal,
        Current,
        "`true` installs Debian's PostgreSQL client (`libpq-dev` to build, `postgresql-client` at run time); `false` skips it and drops the `postgres` extra.",
    ),
    arg(
        "INSTALL_MSSQL_CLIENT",
        "true",
        BuildAndFinal,
        Current,
        "`true` installs Debian's ODBC stack (`unixodbc`, FreeTDS `tdsodbc`); `false` skips it and drops the `microsoft-mssql` extra. Microsoft's own driver needs its apt repository via `*_APT_COMMAND`.",
    ),
    // User and paths.
    arg(
        "AIRFLOW_HOME",
        "/opt/airflow",
        Final,
        Current,
        "`AIRFLOW_HOME` of the image, with `dags/`, `logs/` and `plugins/`; also the `WORKDIR`.",
    ),
    arg(
        "AIRFLOW_UID",
        "50000",
        Final,
        Current,
        "UID of the `airflow` user (primary group 0) and the image's default `USER`.",
    ),
    arg(
        "AIRFLOW_GID",
        "0",
        Final,
        Status::NoOp {
            reason: "the airflow user's group is always 0 so that any UID can run the image (OpenShift-style)",
        },
        "None; the build warns when it is not `0`.",
    ),
    arg(
        "AIRFLOW_USER_HOME_DIR",
        "/home/airflow",
        BuildAndFinal,
        Current,
        "Home of the `airflow` user; the venv is `AIRFLOW_USER_HOME_DIR/.local`, the constraints `AIRFLOW_USER_HOME_DIR/constraints.txt`.",
    ),
    // Labels.
    arg(
        "AIRFLOW_IMAGE_DATE_CREATED",
        "",
        Final,
        Current,
        "`org.opencontainers.image.created` label (RFC 3339); `hangar build` sets it.",
    ),
    arg(
        "COMMIT_SHA",
        "",
        Final,
        Current,
        "`org.opencontainers.image.revision` label.",
    ),
    arg(
        "AIRFLOW_IMAGE_SOURCE",
        "https://github.com/apache/airflow",
        Final,
        Current,
        "`org.opencontainers.image.source` label.",
    ),
];

/// Every build arg of the root `Dockerfile`, in documentation order.
pub fn catalogue() -> &'static [BuildArg] {
    CATALOGUE
}

/// The catalogue entry for `name` (exact, case-sensitive as in the Dockerfile).
pub fn find(name: &str) -> Option<&'static BuildArg> {
    CATALOGUE.iter().find(|a| a.name == name)
}

/// A build arg value that fails its syntax check, or an arg the Dockerfile does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error(
        "unknown build arg `{name}`: the Dockerfile does not declare it; see docs/build-args.md for the list"
    )]
    Unknown { name: String },
    #[error("build arg {name}={value:?} is invalid: {problem}; {fix}")]
    Invalid {
        name: String,
        value: String,
        problem: String,
        fix: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    Bool,
    Image,
    PythonVersion,
    AirflowVersion,
    Extras,
    Requirements,
    PipFlags,
    AptPackages,
    AptEnv,
    AbsolutePath,
    ContextPath,
    Number,
    Constraints,
    InstallMethod,
    VersionSpec,
    GitRef,
    Repo,
}

fn kind_of(name: &str) -> Option<Kind> {
    use Kind::*;
    Some(match name {
        "PYTHON_BASE_IMAGE" | "RUST_IMAGE" => Image,
        "PYTHON_MAJOR_MINOR_VERSION" => PythonVersion,
        "HANGAR_BINARY_SOURCE" => Any,
        "AIRFLOW_VERSION" => AirflowVersion,
        "AIRFLOW_EXTRAS" | "ADDITIONAL_AIRFLOW_EXTRAS" => Extras,
        "AIRFLOW_INSTALLATION_METHOD" | "AIRFLOW_INSTALL_SOURCES" => InstallMethod,
        "AIRFLOW_INSTALL_VERSION" => VersionSpec,
        "AIRFLOW_REPO" => Repo,
        "AIRFLOW_BRANCH" | "AIRFLOW_CONSTRAINTS_REFERENCE" | "COMMIT_SHA" => GitRef,
        "AIRFLOW_SOURCES_FROM" | "DOCKER_CONTEXT_FILES" => ContextPath,
        "AIRFLOW_SOURCES_TO" | "AIRFLOW_HOME" | "AIRFLOW_USER_HOME_DIR" => AbsolutePath,
        "AIRFLOW_CONSTRAINTS_LOCATION" => Constraints,
        "ADDITIONAL_PYTHON_DEPS" => Requirements,
        "ADDITIONAL_PIP_INSTALL_FLAGS" => PipFlags,
        "INSTALL_AIRFLOW_VIA_PIP"
        | "INSTALL_DISTRIBUTIONS_FROM_CONTEXT"
        | "AIRFLOW_LOCAL_PIP_WHEELS"
        | "AIRFLOW_PRE_CACHED_PIP_PACKAGES"
        | "INSTALL_MYSQL_CLIENT"
        | "INSTALL_POSTGRES_CLIENT"
        | "INSTALL_MSSQL_CLIENT" => Bool,
        "CASS_DRIVER_BUILD_CONCURRENCY" | "AIRFLOW_UID" | "AIRFLOW_GID" => Number,
        "DEV_APT_DEPS"
        | "ADDITIONAL_DEV_APT_DEPS"
        | "RUNTIME_APT_DEPS"
        | "ADDITIONAL_RUNTIME_APT_DEPS" => AptPackages,
        "ADDITIONAL_DEV_APT_ENV" | "ADDITIONAL_RUNTIME_APT_ENV" => AptEnv,
        "DEV_APT_COMMAND"
        | "ADDITIONAL_DEV_APT_COMMAND"
        | "RUNTIME_APT_COMMAND"
        | "ADDITIONAL_RUNTIME_APT_COMMAND"
        | "SLUGIFY_USES_TEXT_UNIDECODE"
        | "AIRFLOW_WWW"
        | "AIRFLOW_IMAGE_DATE_CREATED"
        | "AIRFLOW_IMAGE_SOURCE" => Any,
        _ => return None,
    })
}

/// Checks the syntax of `value` for the build arg `name`. Empty values are accepted wherever
/// the Dockerfile gives empty a meaning.
pub fn validate(name: &str, value: &str) -> Result<(), SpecError> {
    let kind = kind_of(name).ok_or_else(|| SpecError::Unknown {
        name: name.to_owned(),
    })?;
    let fail = |problem: String, fix: &str| {
        Err(SpecError::Invalid {
            name: name.to_owned(),
            value: mask_credentials(value),
            problem,
            fix: fix.to_owned(),
        })
    };
    if name == "HANGAR_BINARY_SOURCE" && !matches!(value, "build" | "context") {
        return fail(
            "expected `build` or `context`".into(),
            "pass one of the two",
        );
    }
    if looks_like_credential(value) {
        return fail(
            "it looks like it carries a credential, and build args are recorded in the image history".into(),
            "pass private index settings as a secret (`--secret id=pip-conf,src=pip.conf`) instead",
        );
    }
    match kind {
        Kind::Any => Ok(()),
        Kind::Bool => {
            if matches!(value, "true" | "false") {
                Ok(())
            } else {
                fail(
                    "expected `true` or `false`".into(),
                    "use `true` or `false` (lower case)",
                )
            }
        }
        Kind::Image => {
            if !value.is_empty() && !value.chars().any(char::is_whitespace) {
                Ok(())
            } else {
                fail(
                    "expected an image reference".into(),
                    "use e.g. `python:3.12-slim-bookworm`",
                )
            }
        }
        Kind::PythonVersion => {
            let ok = value
                .split_once('.')
                .is_some_and(|(a, b)| a == "3" && is_digits(b));
            if ok {
                Ok(())
            } else {
                fail(
                    "expected a Python `3.MINOR` version".into(),
                    "use e.g. `3.12`",
                )
            }
        }
        Kind::AirflowVersion => {
            if value.is_empty() || is_pep440_version(value) {
                Ok(())
            } else {
                fail(
                    "not a release version".into(),
                    "use a version such as `3.3.2` or `2.10.5`",
                )
            }
        }
        Kind::VersionSpec => {
            if value.is_empty() || is_version_spec(value) {
                Ok(())
            } else {
                fail(
                    "expected a pip version specifier".into(),
                    "use e.g. `==2.10.5`, or leave it empty and set AIRFLOW_VERSION",
                )
            }
        }
        Kind::Extras => match crate::validate::parse_extras(value) {
            Ok(_) => Ok(()),
            Err(bad) => fail(
                format!("`{bad}` is not an extra name"),
                "use comma-separated names of letters, digits, `-`, `_` and `.` such as `postgres,celery,redis`",
            ),
        },
        Kind::Requirements => {
            for token in value.split_whitespace() {
                if let Err(problem) = check_requirement(token) {
                    return fail(
                        format!("`{token}` {problem}"),
                        "list requirements separated by spaces, e.g. `pandas==2.1.2 lxml`; put pip flags in ADDITIONAL_PIP_INSTALL_FLAGS",
                    );
                }
            }
            Ok(())
        }
        Kind::PipFlags => match value.split_whitespace().next() {
            Some(first) if !first.starts_with('-') => fail(
                "expected pip flags starting with `-`".into(),
                "e.g. `--no-binary lxml`; requirements belong in ADDITIONAL_PYTHON_DEPS",
            ),
            _ => Ok(()),
        },
        Kind::AptPackages => {
            for token in value.split_whitespace() {
                if !is_apt_package(token) {
                    return fail(
                        format!("`{token}` is not a Debian package name"),
                        "list package names separated by spaces, e.g. `vim libopenmpi-dev`",
                    );
                }
            }
            Ok(())
        }
        Kind::AptEnv => {
            for token in value.split_whitespace() {
                let ok = token.split_once('=').is_some_and(|(k, _)| is_env_name(k));
                if !ok {
                    return fail(
                        format!("`{token}` is not KEY=VALUE"),
                        "list KEY=VALUE pairs separated by spaces, e.g. `ACCEPT_EULA=Y`",
                    );
                }
            }
            Ok(())
        }
        Kind::AbsolutePath => {
            if value.starts_with('/') && !value.chars().any(char::is_whitespace) {
                Ok(())
            } else {
                fail(
                    "expected an absolute path without spaces".into(),
                    "use e.g. `/opt/airflow`",
                )
            }
        }
        Kind::ContextPath => {
            if !value.is_empty() && !value.starts_with('/') && !value.split('/').any(|c| c == "..")
            {
                Ok(())
            } else {
                fail(
                    "expected a path inside the build context".into(),
                    "use a relative path such as `docker-context-files`",
                )
            }
        }
        Kind::Number => {
            if is_digits(value) {
                Ok(())
            } else {
                fail(
                    "expected a non-negative integer".into(),
                    "use digits only, e.g. `50000`",
                )
            }
        }
        Kind::Constraints => {
            if value.is_empty()
                || value == CONSTRAINTS_NONE
                || value.starts_with("https://")
                || value.starts_with("http://")
                || value.starts_with("file://")
                || (value.starts_with('/') && !value.chars().any(char::is_whitespace))
            {
                Ok(())
            } else {
                fail(
                    "expected an http(s) URL, an absolute path in the build stage or `none`".into(),
                    "e.g. `/docker-context-files/constraints-3.12.txt`, or `none` to install unconstrained",
                )
            }
        }
        Kind::InstallMethod => {
            if value.is_empty() || crate::validate::parse_install_method(value).is_ok() {
                Ok(())
            } else {
                fail(
                    "expected `apache-airflow`, a path, or an archive URL".into(),
                    "e.g. `apache-airflow`, `.` or `https://github.com/apache/airflow/archive/main.tar.gz`",
                )
            }
        }
        Kind::GitRef => {
            let ok = value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
            if ok {
                Ok(())
            } else {
                fail(
                    "not a git reference".into(),
                    "use e.g. `constraints-3.3.2` or `main`",
                )
            }
        }
        Kind::Repo => {
            let ok = value.split_once('/').is_some_and(|(o, r)| {
                !o.is_empty()
                    && !r.is_empty()
                    && !r.contains('/')
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
            });
            if ok {
                Ok(())
            } else {
                fail("expected OWNER/REPO".into(), "use e.g. `apache/airflow`")
            }
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `N(.N)*` with optional `aN`/`bN`/`rcN`, `.postN`, `.devN` suffixes.
fn is_pep440_version(v: &str) -> bool {
    let mut rest = v;
    let mut release_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    if release_end < rest.len() && rest[..release_end].ends_with('.') {
        release_end -= 1;
    }
    let release = &rest[..release_end];
    if release.is_empty() || release.split('.').any(|p| !is_digits(p)) {
        return false;
    }
    rest = &rest[release_end..];
    for prefix in ["rc", "a", "b"] {
        if let Some(r) = rest.strip_prefix(prefix) {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            if end == 0 {
                return false;
            }
            rest = &r[end..];
            break;
        }
    }
    for prefix in [".post", ".dev"] {
        if let Some(r) = rest.strip_prefix(prefix) {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            if end == 0 {
                return false;
            }
            rest = &r[end..];
        }
    }
    rest.is_empty()
}

fn is_version_spec(s: &str) -> bool {
    s.split(',').all(|part| {
        let op_end = part
            .find(|c: char| !matches!(c, '=' | '<' | '>' | '!' | '~'))
            .unwrap_or(part.len());
        let (op, ver) = part.split_at(op_end);
        matches!(op, "==" | ">=" | "<=" | ">" | "<" | "!=" | "~=" | "===")
            && (is_pep440_version(ver) || ver.strip_suffix(".*").is_some_and(is_pep440_version))
    })
}

/// A requirement token as pip accepts it on the command line (no spaces inside).
fn check_requirement(token: &str) -> Result<(), &'static str> {
    if token.starts_with('-') {
        return Err("is a pip flag, not a requirement");
    }
    if token.contains("://") {
        return Ok(());
    }
    if token.chars().any(|c| {
        matches!(
            c,
            '`' | '$' | '|' | '&' | '\'' | '"' | '\\' | '(' | ')' | '{' | '}'
        )
    }) {
        return Err("contains shell characters");
    }
    let name_end = token
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(token.len());
    if name_end == 0 {
        return Err("does not start with a distribution name");
    }
    let mut rest = &token[name_end..];
    if let Some(r) = rest.strip_prefix('[') {
        let Some(close) = r.find(']') else {
            return Err("has an unclosed `[`");
        };
        if crate::validate::parse_extras(&r[..close]).is_err() {
            return Err("has malformed extras");
        }
        rest = &r[close + 1..];
    }
    let spec = rest.split(';').next().unwrap_or("");
    if spec.is_empty() || is_version_spec(spec) {
        Ok(())
    } else {
        Err("has a malformed version specifier")
    }
}

fn is_apt_package(token: &str) -> bool {
    let (name, version) = token.split_once('=').unwrap_or((token, ""));
    let name = name.split_once(':').map_or(name, |(n, arch)| {
        if arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            n
        } else {
            ""
        }
    });
    let name_ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    let version_ok = version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | ':' | '-'));
    name_ok && version_ok
}

/// True when `value` looks like it carries a credential: a URL with `user:password@`, a
/// `token=`/`password=`-style assignment, an `Authorization`/bearer header, or a well-known
/// token prefix.
pub fn looks_like_credential(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    for word in value.split_whitespace() {
        if let Some((_, after_scheme)) = word.split_once("://") {
            let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
            if let Some((userinfo, _)) = authority.rsplit_once('@')
                && (userinfo.contains(':') || userinfo.len() >= 20)
            {
                return true;
            }
        }
    }
    const KEYS: &[&str] = &[
        "password=",
        "passwd=",
        "pwd=",
        "token=",
        "secret=",
        "api_key=",
        "apikey=",
        "api-key=",
        "access_key",
        "secret_key",
        "private_token",
        "authorization:",
        "bearer ",
    ];
    if KEYS.iter().any(|k| lower.contains(k)) {
        return true;
    }
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "npm_",
    ];
    value
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|w| {
            PREFIXES
                .iter()
                .any(|p| w.starts_with(p) && w.len() >= p.len() + 16)
                || (w.len() == 20
                    && w.starts_with("AKIA")
                    && w[4..]
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        })
}

/// `value` with URL passwords replaced by `***` and anything credential-like hidden, for
/// error messages and logs.
pub fn mask_credentials(value: &str) -> String {
    if !looks_like_credential(value) {
        return value.to_owned();
    }
    let masked: Vec<String> = value
        .split(' ')
        .map(|word| {
            if let Some((scheme, after)) = word.split_once("://") {
                let (authority, path) =
                    after.split_at(after.find(['/', '?', '#']).unwrap_or(after.len()));
                if let Some((userinfo, host)) = authority.rsplit_once('@') {
                    let user = userinfo.split(':').next().unwrap_or("");
                    let shown = if userinfo.contains(':') {
                        format!("{user}:***")
                    } else {
                        "***".into()
                    };
                    return format!("{scheme}://{shown}@{host}{path}");
                }
                word.to_owned()
            } else if looks_like_credential(word) {
                "***".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect();
    masked.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_are_unique_and_findable() {
        let mut names: Vec<_> = catalogue().iter().map(|a| a.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate names in the catalogue");
        for a in catalogue() {
            assert_eq!(find(a.name), Some(a));
            assert!(kind_of(a.name).is_some(), "{} has no syntax check", a.name);
            if !a.default.is_empty() || a.name == "AIRFLOW_VERSION" {
                assert_eq!(
                    validate(a.name, a.default),
                    Ok(()),
                    "default of {} fails its own check",
                    a.name
                );
            }
        }
        assert_eq!(find("NOPE"), None);
    }

    #[test]
    fn every_name_of_the_issue_is_catalogued() {
        let names = "PYTHON_BASE_IMAGE, PYTHON_MAJOR_MINOR_VERSION, AIRFLOW_VERSION, AIRFLOW_REPO, AIRFLOW_BRANCH, \
            AIRFLOW_CONSTRAINTS_REFERENCE, AIRFLOW_EXTRAS, INSTALL_AIRFLOW_VIA_PIP, AIRFLOW_PRE_CACHED_PIP_PACKAGES, \
            AIRFLOW_LOCAL_PIP_WHEELS, ADDITIONAL_AIRFLOW_EXTRAS, ADDITIONAL_PYTHON_DEPS, DEV_APT_COMMAND, \
            ADDITIONAL_DEV_APT_COMMAND, DEV_APT_DEPS, ADDITIONAL_DEV_APT_DEPS, ADDITIONAL_DEV_APT_ENV, \
            RUNTIME_APT_COMMAND, ADDITIONAL_RUNTIME_APT_COMMAND, RUNTIME_APT_DEPS, ADDITIONAL_RUNTIME_APT_DEPS, \
            ADDITIONAL_RUNTIME_APT_ENV, AIRFLOW_HOME, AIRFLOW_UID, AIRFLOW_GID, AIRFLOW_USER_HOME_DIR, \
            CASS_DRIVER_BUILD_CONCURRENCY, INSTALL_MYSQL_CLIENT, AIRFLOW_INSTALL_SOURCES, AIRFLOW_INSTALL_VERSION, \
            SLUGIFY_USES_TEXT_UNIDECODE, AIRFLOW_WWW, AIRFLOW_SOURCES_FROM, AIRFLOW_SOURCES_TO, \
            AIRFLOW_CONSTRAINTS_LOCATION, AIRFLOW_INSTALLATION_METHOD, INSTALL_DISTRIBUTIONS_FROM_CONTEXT, \
            DOCKER_CONTEXT_FILES, ADDITIONAL_PIP_INSTALL_FLAGS, INSTALL_POSTGRES_CLIENT, INSTALL_MSSQL_CLIENT";
        for name in names.split(',').map(str::trim) {
            assert!(find(name).is_some(), "{name} missing from the catalogue");
        }
        assert!(matches!(
            find("AIRFLOW_WWW").map(|a| a.status),
            Some(Status::NoOp { .. })
        ));
        assert!(matches!(
            find("SLUGIFY_USES_TEXT_UNIDECODE").map(|a| a.status),
            Some(Status::NoOp { .. })
        ));
    }

    #[test]
    fn validation_accepts_good_values() {
        for (name, value) in [
            ("AIRFLOW_EXTRAS", "postgres,celery,redis"),
            ("AIRFLOW_EXTRAS", "cncf.kubernetes, microsoft.azure"),
            ("ADDITIONAL_AIRFLOW_EXTRAS", ""),
            ("AIRFLOW_VERSION", "2.10.5"),
            ("AIRFLOW_VERSION", "3.1.0rc2"),
            ("AIRFLOW_VERSION", "3.0.0.dev0"),
            ("AIRFLOW_INSTALL_VERSION", "==2.10.5"),
            ("AIRFLOW_INSTALL_VERSION", ">=2.10,<3"),
            (
                "ADDITIONAL_PYTHON_DEPS",
                "pandas==2.1.2 lxml apache-airflow-providers-slack[common.sql]>=8",
            ),
            (
                "ADDITIONAL_PYTHON_DEPS",
                "https://example.org/pkg-1.0.tar.gz",
            ),
            (
                "ADDITIONAL_RUNTIME_APT_DEPS",
                "vim libopenmpi-dev g++ openjdk-17-jre-headless:amd64",
            ),
            ("ADDITIONAL_DEV_APT_ENV", "ACCEPT_EULA=Y FOO_BAR=1"),
            ("AIRFLOW_CONSTRAINTS_LOCATION", "none"),
            (
                "AIRFLOW_CONSTRAINTS_LOCATION",
                "/docker-context-files/constraints-3.11.txt",
            ),
            ("AIRFLOW_CONSTRAINTS_LOCATION", "https://example.org/c.txt"),
            ("AIRFLOW_INSTALLATION_METHOD", "."),
            (
                "AIRFLOW_INSTALLATION_METHOD",
                "apache-airflow @ https://github.com/apache/airflow/archive/main.tar.gz",
            ),
            ("PYTHON_MAJOR_MINOR_VERSION", "3.11"),
            ("INSTALL_MYSQL_CLIENT", "false"),
            ("AIRFLOW_UID", "12345"),
            ("ADDITIONAL_PIP_INSTALL_FLAGS", "--no-binary lxml"),
            ("DOCKER_CONTEXT_FILES", "docker-context-files"),
        ] {
            assert_eq!(validate(name, value), Ok(()), "{name}={value}");
        }
    }

    #[test]
    fn validation_rejects_bad_values_naming_arg_and_fix() {
        for (name, value, needle) in [
            (
                "AIRFLOW_EXTRAS",
                "postgres;rm -rf /",
                "is not an extra name",
            ),
            ("AIRFLOW_EXTRAS", "postgres,,redis", "is not an extra name"),
            ("AIRFLOW_EXTRAS", "[postgres]", "is not an extra name"),
            ("AIRFLOW_VERSION", "latest", "not a release version"),
            ("AIRFLOW_VERSION", "3.x", "not a release version"),
            ("PYTHON_MAJOR_MINOR_VERSION", "3.12.1", "3.MINOR"),
            ("INSTALL_MYSQL_CLIENT", "yes", "`true` or `false`"),
            ("ADDITIONAL_PYTHON_DEPS", "--index-url x", "pip flag"),
            ("ADDITIONAL_PYTHON_DEPS", "pandas=2", "version specifier"),
            ("ADDITIONAL_PYTHON_DEPS", "$(id)", "shell characters"),
            ("ADDITIONAL_RUNTIME_APT_DEPS", "Vim", "Debian package"),
            ("ADDITIONAL_DEV_APT_ENV", "ACCEPT_EULA", "KEY=VALUE"),
            (
                "AIRFLOW_CONSTRAINTS_LOCATION",
                "constraints.txt",
                "absolute path",
            ),
            ("AIRFLOW_HOME", "opt/airflow", "absolute path"),
            ("AIRFLOW_UID", "-1", "integer"),
            (
                "DOCKER_CONTEXT_FILES",
                "../elsewhere",
                "inside the build context",
            ),
            ("HANGAR_BINARY_SOURCE", "docker", "`build` or `context`"),
        ] {
            let err = validate(name, value).expect_err(value);
            let msg = err.to_string();
            assert!(msg.contains(name), "{msg}");
            assert!(msg.contains(needle), "{name}={value}: {msg}");
        }
        assert_eq!(
            validate("NO_SUCH_ARG", "x"),
            Err(SpecError::Unknown {
                name: "NO_SUCH_ARG".into()
            })
        );
    }

    #[test]
    fn credentials_are_detected_and_masked() {
        for v in [
            "https://user:s3cret@pypi.example.com/simple",
            "https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/x.tar.gz",
            "token=abc",
            "PASSWORD=abc",
            "Authorization: Bearer abc",
            "AKIAABCDEFGHIJKLMNOP",
            "glpat-abcdefghijklmnopqrstu",
        ] {
            assert!(looks_like_credential(v), "{v}");
        }
        for v in [
            "https://pypi.org/simple",
            "git+https://git@github.com/a/b",
            "postgres,celery",
            "tokenizers==0.15",
        ] {
            assert!(!looks_like_credential(v), "{v}");
        }
        assert_eq!(
            mask_credentials("https://user:s3cret@pypi.example.com/simple"),
            "https://user:***@pypi.example.com/simple"
        );
        let err = validate("ADDITIONAL_PYTHON_DEPS", "https://u:hunter2@h/p.tar.gz")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("secret"), "{err}");
    }

    fn repo_file(rel: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../").to_owned() + rel;
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    fn catalogue_names() -> std::collections::BTreeSet<String> {
        catalogue().iter().map(|a| a.name.to_owned()).collect()
    }

    #[test]
    fn docs_list_exactly_the_catalogue() {
        let doc = repo_file("docs/build-args.md");
        let documented: std::collections::BTreeSet<String> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`').map(|(n, _)| n.to_owned()))
            .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert_eq!(documented, catalogue_names());
        for a in catalogue() {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", a.name)))
                .unwrap();
            assert!(row.contains(&a.stage.to_string()), "{row}");
        }
    }

    #[test]
    fn dockerfile_declares_exactly_the_catalogue_with_its_defaults() {
        let dockerfile = repo_file("Dockerfile").replace("\\\n", " ");
        let mut declared = std::collections::BTreeMap::new();
        for line in dockerfile
            .lines()
            .filter_map(|l| l.trim().strip_prefix("ARG "))
        {
            for token in line.split_whitespace() {
                let (name, default) = token.split_once('=').unwrap_or((token, ""));
                let default = default.trim_matches('"').to_owned();
                if !default.is_empty() || !declared.contains_key(name) {
                    declared.insert(name.to_owned(), default);
                }
            }
        }
        let names: std::collections::BTreeSet<String> = declared.keys().cloned().collect();
        assert_eq!(names, catalogue_names());
        for a in catalogue() {
            assert_eq!(
                declared[a.name], a.default,
                "default of {} differs between Dockerfile and catalogue",
                a.name
            );
        }
    }
}
