//! The catalogue of build args the root `Dockerfile` understands: name, default, stage,
//! effect and status.
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
        "Where `/entrypoint` comes from: `build` compiles hangar from the repository in `RUST_IMAGE`; `context` copies `.hangar/<TARGETARCH>/hangar` from the build context (what `hangar build` does). buildah/podman need it passed explicitly.",
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
        "AIRFLOW_USE_UV",
        "true",
        Build,
        Current,
        "`true` installs Airflow, its extras and `ADDITIONAL_PYTHON_DEPS` with uv (a pinned release fetched from the package index with the same CA bundle, pip.conf and netrc; pip.conf's index settings are translated for uv); `false` installs them with pip.",
    ),
    arg(
        "SOURCE_DATE_EPOCH",
        "",
        Build,
        Current,
        "Seconds since 1970: the install steps' Python writes hash-checked bytecode instead of timestamped, and BuildKit (0.11 and later) dates the image by it. `hangar build --source-date-epoch` sets it (default: the last commit time of a project in git).",
    ),
    arg(
        "TARGETARCH",
        "",
        Build,
        Current,
        "Set by the engine to the target architecture (`amd64`, `arm64`); keys the download cache mounts together with `PYTHON_MAJOR_MINOR_VERSION`. Do not set it by hand.",
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
        "`true` installs the wheels and sdists of `/docker-context-files` offline (`--no-index --find-links`), Airflow included when present; a folder from `hangar download` is first checked against its `SHA256SUMS`, and its `constraints.txt` is the default constraints (see docs/air-gapped.md).",
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
        "Shell command run after `DEV_APT_COMMAND`; a leading `&&` (the seed's form) is dropped.",
    ),
    arg(
        "ADDITIONAL_DEV_APT_ENV",
        "",
        Build,
        Current,
        "Space-separated `KEY=VALUE` pairs set for the build-stage apt commands (e.g. `ACCEPT_EULA=Y`).",
    ),
    arg(
        "ADDITIONAL_DEV_ENV_VARS",
        "",
        Build,
        Status::Legacy {
            replaced_by: "ADDITIONAL_DEV_APT_ENV",
        },
        "The seed's name of `ADDITIONAL_DEV_APT_ENV`; its pairs are added to that arg's.",
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
        "Shell command run after `RUNTIME_APT_COMMAND`; a leading `&&` (the seed's form) is dropped.",
    ),
    arg(
        "ADDITIONAL_RUNTIME_APT_ENV",
        "",
        Final,
        Current,
        "Space-separated `KEY=VALUE` pairs set for the final-stage apt commands.",
    ),
    arg(
        "ADDITIONAL_RUNTIME_ENV_VARS",
        "",
        Final,
        Status::Legacy {
            replaced_by: "ADDITIONAL_RUNTIME_APT_ENV",
        },
        "The seed's name of `ADDITIONAL_RUNTIME_APT_ENV`; its pairs are added to that arg's.",
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
        "INSTALL_APT_SOURCES_IN_IMAGE",
        "false",
        Final,
        Current,
        "`true` makes the `apt-sources` secret the final image's apt sources (`/etc/apt/sources.list.d/hangar.sources` or `hangar.list`, replacing the base's Debian sources), for apt in images built FROM it; refused when the file holds a credential. `hangar build --apt-sources-in-image` sets it.",
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
        "AIRFLOW_IMAGE_SBOM",
        "",
        Final,
        Current,
        "`io.hangar.sbom` label: where the image's SBOM is (`hangar build --sbom FILE` sets the file's name, `--sbom-url` a URL).",
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
        }
        assert_eq!(find("NOPE"), None);
    }

    #[test]
    fn every_upstream_arg_name_is_catalogued() {
        let names = "PYTHON_BASE_IMAGE, PYTHON_MAJOR_MINOR_VERSION, AIRFLOW_VERSION, AIRFLOW_REPO, AIRFLOW_BRANCH, \
            AIRFLOW_CONSTRAINTS_REFERENCE, AIRFLOW_EXTRAS, INSTALL_AIRFLOW_VIA_PIP, AIRFLOW_PRE_CACHED_PIP_PACKAGES, \
            AIRFLOW_LOCAL_PIP_WHEELS, ADDITIONAL_AIRFLOW_EXTRAS, ADDITIONAL_PYTHON_DEPS, DEV_APT_COMMAND, \
            ADDITIONAL_DEV_APT_COMMAND, DEV_APT_DEPS, ADDITIONAL_DEV_APT_DEPS, ADDITIONAL_DEV_APT_ENV, \
            RUNTIME_APT_COMMAND, ADDITIONAL_RUNTIME_APT_COMMAND, RUNTIME_APT_DEPS, ADDITIONAL_RUNTIME_APT_DEPS, \
            ADDITIONAL_RUNTIME_APT_ENV, AIRFLOW_HOME, AIRFLOW_UID, AIRFLOW_GID, AIRFLOW_USER_HOME_DIR, \
            CASS_DRIVER_BUILD_CONCURRENCY, INSTALL_MYSQL_CLIENT, AIRFLOW_INSTALL_SOURCES, AIRFLOW_INSTALL_VERSION, \
            SLUGIFY_USES_TEXT_UNIDECODE, AIRFLOW_WWW, AIRFLOW_SOURCES_FROM, AIRFLOW_SOURCES_TO, \
            AIRFLOW_CONSTRAINTS_LOCATION, AIRFLOW_INSTALLATION_METHOD, INSTALL_DISTRIBUTIONS_FROM_CONTEXT, \
            DOCKER_CONTEXT_FILES, ADDITIONAL_PIP_INSTALL_FLAGS, INSTALL_POSTGRES_CLIENT, INSTALL_MSSQL_CLIENT, \
            ADDITIONAL_DEV_ENV_VARS, ADDITIONAL_RUNTIME_ENV_VARS";
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
