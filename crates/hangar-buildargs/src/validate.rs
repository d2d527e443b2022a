//! Per-arg syntax checks of build-arg values, shared by the in-build steps and the
//! `hangar build` front end, and the value parsers the checks and the steps share.

use crate::catalogue::CONSTRAINTS_NONE;
use crate::credentials::{looks_like_credential, mask_credentials};

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
    /// Seconds since the epoch, or empty.
    Seconds,
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
        | "AIRFLOW_USE_UV"
        | "INSTALL_DISTRIBUTIONS_FROM_CONTEXT"
        | "AIRFLOW_LOCAL_PIP_WHEELS"
        | "AIRFLOW_PRE_CACHED_PIP_PACKAGES"
        | "INSTALL_MYSQL_CLIENT"
        | "INSTALL_POSTGRES_CLIENT"
        | "INSTALL_MSSQL_CLIENT"
        | "INSTALL_APT_SOURCES_IN_IMAGE" => Bool,
        "CASS_DRIVER_BUILD_CONCURRENCY" | "AIRFLOW_UID" | "AIRFLOW_GID" => Number,
        "SOURCE_DATE_EPOCH" => Seconds,
        "DEV_APT_DEPS"
        | "ADDITIONAL_DEV_APT_DEPS"
        | "RUNTIME_APT_DEPS"
        | "ADDITIONAL_RUNTIME_APT_DEPS" => AptPackages,
        "ADDITIONAL_DEV_APT_ENV"
        | "ADDITIONAL_RUNTIME_APT_ENV"
        | "ADDITIONAL_DEV_ENV_VARS"
        | "ADDITIONAL_RUNTIME_ENV_VARS" => AptEnv,
        "DEV_APT_COMMAND"
        | "ADDITIONAL_DEV_APT_COMMAND"
        | "RUNTIME_APT_COMMAND"
        | "ADDITIONAL_RUNTIME_APT_COMMAND"
        | "SLUGIFY_USES_TEXT_UNIDECODE"
        | "AIRFLOW_WWW"
        | "AIRFLOW_IMAGE_DATE_CREATED"
        | "AIRFLOW_IMAGE_SBOM"
        | "AIRFLOW_IMAGE_SOURCE"
        | "TARGETARCH" => Any,
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
        Kind::Extras => match parse_extras(value) {
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
        Kind::Seconds => {
            if value.is_empty() || is_digits(value) {
                Ok(())
            } else {
                fail(
                    "expected seconds since 1970-01-01".into(),
                    "use digits only, e.g. the output of `git log -1 --format=%ct`",
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
            if value.is_empty() || parse_install_method(value).is_ok() {
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
        if parse_extras(&r[..close]).is_err() {
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

/// Splits a comma-separated extras list into names; on failure returns the offending item.
/// Blanks around names are ignored; an entirely empty list is valid (no extras).
pub fn parse_extras(list: &str) -> Result<Vec<String>, String> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|item| {
            let name = item.trim();
            let ok = !name.is_empty()
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name.ends_with(|c: char| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if ok {
                Ok(name.to_owned())
            } else {
                Err(item.to_owned())
            }
        })
        .collect()
}

/// The form of an `AIRFLOW_INSTALLATION_METHOD` (or legacy `AIRFLOW_INSTALL_SOURCES`) value,
/// borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallMethod<'a> {
    /// `apache-airflow` (or empty): from the package index.
    PyPi,
    /// A source tree, sdist or wheel inside the build stage.
    Path(&'a str),
    /// An archive URL (`https://…/main.tar.gz`, optionally written `apache-airflow @ URL`),
    /// without the `apache-airflow @` prefix.
    Url(&'a str),
    /// `github`: the archive of `AIRFLOW_BRANCH` of `AIRFLOW_REPO`.
    GitHub,
}

/// Parses an install-method value; the error is a short description of what was expected.
pub fn parse_install_method(value: &str) -> Result<InstallMethod<'_>, &'static str> {
    let v = value.trim();
    if v.is_empty() || v == "apache-airflow" || v == "apache_airflow" {
        return Ok(InstallMethod::PyPi);
    }
    if v == "github" {
        return Ok(InstallMethod::GitHub);
    }
    let url = v
        .split_once('@')
        .filter(|(name, _)| matches!(name.trim(), "apache-airflow" | "apache_airflow"))
        .map_or(v, |(_, url)| url.trim());
    if url.starts_with("https://") || url.starts_with("http://") || url.starts_with("file://") {
        if url.chars().any(char::is_whitespace) {
            return Err("a URL without spaces");
        }
        return Ok(InstallMethod::Url(url));
    }
    if v.chars().any(char::is_whitespace) || v.contains('@') {
        return Err("`apache-airflow`, `github`, a path or an archive URL");
    }
    Ok(InstallMethod::Path(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_arg_has_a_check_its_default_passes() {
        for a in crate::catalogue() {
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
            ("AIRFLOW_USE_UV", "false"),
            ("TARGETARCH", "arm64"),
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
            ("AIRFLOW_USE_UV", "1", "`true` or `false`"),
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
    fn values_carrying_credentials_are_refused_and_masked() {
        let err = validate("ADDITIONAL_PYTHON_DEPS", "https://u:hunter2@h/p.tar.gz")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("secret"), "{err}");
    }

    #[test]
    fn extras_lists_split_into_names() {
        assert_eq!(
            parse_extras(" postgres, cncf.kubernetes ,celery"),
            Ok(vec![
                "postgres".to_owned(),
                "cncf.kubernetes".to_owned(),
                "celery".to_owned()
            ])
        );
        assert_eq!(parse_extras("  "), Ok(Vec::new()));
        assert!(parse_extras("a,,b").is_err());
        assert!(parse_extras("-a").is_err());
        assert_eq!(
            parse_extras("postgres,celery;x"),
            Err("celery;x".to_owned())
        );
    }

    #[test]
    fn install_methods_parse_in_every_form() {
        assert_eq!(
            parse_install_method("apache-airflow"),
            Ok(InstallMethod::PyPi)
        );
        assert_eq!(parse_install_method(""), Ok(InstallMethod::PyPi));
        assert_eq!(parse_install_method("github"), Ok(InstallMethod::GitHub));
        assert_eq!(parse_install_method(" . "), Ok(InstallMethod::Path(".")));
        assert_eq!(
            parse_install_method(
                "apache-airflow @ https://github.com/apache/airflow/archive/main.tar.gz"
            ),
            Ok(InstallMethod::Url(
                "https://github.com/apache/airflow/archive/main.tar.gz"
            ))
        );
        assert_eq!(
            parse_install_method("https://x.org/a.tar.gz"),
            Ok(InstallMethod::Url("https://x.org/a.tar.gz"))
        );
        assert!(parse_install_method("apache-airflow @ nothing here").is_err());
        assert!(parse_install_method("foo @ https://x").is_err());
    }
}
