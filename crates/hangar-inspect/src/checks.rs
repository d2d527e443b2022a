//! The checks of the production-image contract: pure functions of the image's config and the
//! facts its scripts printed, so every verdict and every message is unit-tested.

use serde::Serialize;

use crate::config::ImageConfig;
use crate::facts::{ARBITRARY_USER, Facts};

/// The uid of the image's `airflow` user in the production-image contract.
pub const AIRFLOW_UID: &str = "50000";

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable name for CI (`default-user`, `pip-check`, …).
    pub id: &'static str,
    /// What is checked, for people.
    pub title: &'static str,
    pub passed: bool,
    /// What was found; for a failure, also what to change.
    pub detail: String,
}

fn check(id: &'static str, title: &'static str, passed: bool, detail: String) -> Check {
    Check {
        id,
        title,
        passed,
        detail,
    }
}

/// What the three runs in the image gave.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// As the image's user, entrypoint replaced.
    pub default_user: Facts,
    /// Through the entrypoint as [`ARBITRARY_USER`].
    pub arbitrary: Facts,
    /// The last lines of the arbitrary-user run's output, for when it did not finish.
    pub arbitrary_tail: String,
    /// The credential-file scan as root.
    pub scan: Facts,
}

/// Every check, in the order they are reported.
#[must_use]
pub fn evaluate(config: &ImageConfig, seen: &Observed) -> Vec<Check> {
    vec![
        default_user(config, &seen.default_user),
        arbitrary_uid(seen),
        entrypoint(config, &seen.default_user),
        airflow_home(config, &seen.default_user),
        airflow_version(&seen.default_user),
        pip_check(&seen.default_user),
        no_build_tools(&seen.default_user),
        no_credentials(config, seen),
    ]
}

fn default_user(config: &ImageConfig, f: &Facts) -> Check {
    let uid = f.get("uid").unwrap_or("?");
    let gid = f.get("gid").unwrap_or("?");
    let user = if config.user.is_empty() {
        "no USER (root)".to_owned()
    } else {
        format!("USER {:?}", config.user)
    };
    let passed = uid == AIRFLOW_UID && gid == "0";
    let mut detail = format!("{user}: uid {uid}, gid {gid}");
    if !passed {
        detail.push_str(&format!(
            "; run as the airflow user, uid {AIRFLOW_UID} in group 0 (`USER {AIRFLOW_UID}` after `useradd --uid {AIRFLOW_UID} --gid 0 airflow`)"
        ));
    }
    check("default-user", "default user 50000, GID 0", passed, detail)
}

fn arbitrary_uid(seen: &Observed) -> Check {
    let f = &seen.arbitrary;
    let title = "an arbitrary UID with GID 0 works";
    let (want_uid, _) = ARBITRARY_USER
        .split_once(':')
        .unwrap_or((ARBITRARY_USER, ""));
    if !f.complete() {
        return check(
            "arbitrary-uid",
            title,
            false,
            format!(
                "`--user {ARBITRARY_USER}` through the entrypoint did not finish: {}",
                seen.arbitrary_tail.trim()
            ),
        );
    }
    let mut problems = Vec::new();
    if f.get("uid") != Some(want_uid) || f.get("gid") != Some("0") {
        problems.push(format!(
            "ran as uid {}, gid {}",
            f.get("uid").unwrap_or("?"),
            f.get("gid").unwrap_or("?")
        ));
    }
    if !f.yes("logs_writable") {
        problems.push(
            "cannot write to $AIRFLOW_HOME/logs: make it group 0 and group-writable".to_owned(),
        );
    }
    if f.get("airflow_version_status") != Some("0") {
        problems.push(format!(
            "`airflow version` failed: {}",
            f.get("airflow_version").unwrap_or("")
        ));
    }
    let passed = problems.is_empty();
    let detail = if passed {
        format!(
            "`--user {ARBITRARY_USER}`: wrote to logs, Airflow {}",
            f.get("airflow_version").unwrap_or("?")
        )
    } else {
        format!("`--user {ARBITRARY_USER}`: {}", problems.join("; "))
    };
    check("arbitrary-uid", title, passed, detail)
}

fn entrypoint(config: &ImageConfig, f: &Facts) -> Check {
    let title = "ENTRYPOINT set and executable";
    if config.entrypoint.is_empty() {
        return check(
            "entrypoint",
            title,
            false,
            "no ENTRYPOINT: set `ENTRYPOINT [\"/entrypoint\"]` (or dumb-init before it) so the image's init duties run"
                .to_owned(),
        );
    }
    let shown = serde_json::to_string(&config.entrypoint).unwrap_or_default();
    if f.yes("entrypoint_executable") {
        check("entrypoint", title, true, shown)
    } else {
        check(
            "entrypoint",
            title,
            false,
            format!(
                "{shown}: {} is not an executable file in the image",
                config.entrypoint[0]
            ),
        )
    }
}

/// `stat`'s `GID MODE PATH` (octal mode) or `missing PATH`.
fn dir_problem(line: &str) -> Option<String> {
    let mut parts = line.splitn(3, ' ');
    let (a, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if a == "missing" {
        return Some(format!("{b} is missing"));
    }
    let path = parts.next().unwrap_or("");
    let mode = u32::from_str_radix(b, 8).unwrap_or(0);
    if a != "0" {
        return Some(format!("{path} has group {a}, not 0"));
    }
    if mode & 0o020 == 0 {
        return Some(format!("{path} is not group-writable (mode {b})"));
    }
    None
}

fn airflow_home(config: &ImageConfig, f: &Facts) -> Check {
    let title = "AIRFLOW_HOME, dags and logs exist, group 0 and group-writable";
    let Some(home) = config.env_var("AIRFLOW_HOME") else {
        return check(
            "airflow-home",
            title,
            false,
            "AIRFLOW_HOME is not set in the image's environment: set `ENV AIRFLOW_HOME=/opt/airflow`"
                .to_owned(),
        );
    };
    let problems: Vec<String> = f.all("dir").iter().filter_map(|d| dir_problem(d)).collect();
    if problems.is_empty() && f.all("dir").len() == 3 {
        check(
            "airflow-home",
            title,
            true,
            format!("{home}, {home}/dags, {home}/logs"),
        )
    } else {
        check(
            "airflow-home",
            title,
            false,
            format!(
                "{}; create them owned by group 0 with `chmod g+rwX`",
                problems.join("; ")
            ),
        )
    }
}

fn airflow_version(f: &Facts) -> Check {
    let out = f.get("airflow_version").unwrap_or("").to_owned();
    let passed = f.get("airflow_version_status") == Some("0");
    let detail = if passed {
        out
    } else {
        format!("`airflow version` failed: {out}")
    };
    check("airflow-version", "`airflow version` runs", passed, detail)
}

fn pip_check(f: &Facts) -> Check {
    let lines = f.all("pip_check").join("; ");
    let passed = f.get("pip_check_status") == Some("0");
    let detail = if passed {
        lines
    } else {
        format!("{lines} (install versions that satisfy every requirement: Airflow's constraints)")
    };
    check(
        "pip-check",
        "`pip check` finds no broken requirement",
        passed,
        detail,
    )
}

fn no_build_tools(f: &Facts) -> Check {
    let compilers = f.all("compiler");
    let packages = f.all("build_package");
    let passed = compilers.is_empty() && packages.is_empty();
    let detail = if passed {
        "no gcc, cc, g++, clang or make; no build-essential".to_owned()
    } else {
        let mut found: Vec<String> = compilers.to_vec();
        found.extend(packages.iter().map(|p| format!("package {p}")));
        format!(
            "found {}: compile in a build stage and copy only the results",
            found.join(", ")
        )
    };
    check(
        "no-build-tools",
        "no compilers or build-essential packages",
        passed,
        detail,
    )
}

/// `NAME=scheme://user:password@…` entries of the image's environment, by name only.
fn env_with_password(config: &ImageConfig) -> Vec<String> {
    config
        .env
        .iter()
        .filter_map(|e| {
            let (name, value) = e.split_once('=')?;
            let rest = value.split_once("://")?.1;
            let authority = rest.split(['/', '?', '#']).next()?;
            let userinfo = authority.rsplit_once('@')?.0;
            userinfo.contains(':').then(|| name.to_owned())
        })
        .collect()
}

fn no_credentials(config: &ImageConfig, seen: &Observed) -> Check {
    let title = "no credential files, no password in ENV, nothing root-owned in the home";
    let mut problems = Vec::new();
    if !seen.scan.complete() {
        problems.push("the credential scan did not finish".to_owned());
    }
    let files = seen.scan.all("credential_file");
    if !files.is_empty() {
        problems.push(format!("credential files {}", files.join(", ")));
    }
    let env = env_with_password(config);
    if !env.is_empty() {
        problems.push(format!(
            "ENV {} holds a URL with a password (pass it as a build secret instead)",
            env.join(", ")
        ));
    }
    let root_owned = seen.default_user.all("home_root_owned");
    if !root_owned.is_empty() {
        problems.push(format!(
            "root-owned in {}: {}",
            seen.default_user.get("home").unwrap_or("the home"),
            root_owned.join(", ")
        ));
    }
    let passed = problems.is_empty();
    let detail = if passed {
        "none of .netrc, .pypirc, .piprc, pip.conf, pip.ini, .git-credentials, *.keytab, .docker/config.json".to_owned()
    } else {
        format!(
            "{}: remove them from the image (mount credentials as build secrets)",
            problems.join("; ")
        )
    };
    check("no-credentials", title, passed, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good_config() -> ImageConfig {
        ImageConfig {
            user: "50000".into(),
            env: vec![
                "AIRFLOW_HOME=/opt/airflow".into(),
                "PIP_INDEX_URL=https://pypi.org/simple".into(),
            ],
            entrypoint: vec!["/entrypoint".into()],
            ..ImageConfig::default()
        }
    }

    fn good() -> Observed {
        Observed {
            default_user: Facts::parse(
                "hangar-verify:uid=50000\nhangar-verify:gid=0\nhangar-verify:home=/home/airflow\n\
                 hangar-verify:entrypoint_executable=yes\n\
                 hangar-verify:dir=0 775 /opt/airflow\nhangar-verify:dir=0 775 /opt/airflow/dags\n\
                 hangar-verify:dir=0 2775 /opt/airflow/logs\n\
                 hangar-verify:airflow_version_status=0\nhangar-verify:airflow_version=3.3.2\n\
                 hangar-verify:pip_check_status=0\nhangar-verify:pip_check=No broken requirements found.\n\
                 hangar-verify:done=yes\n",
            ),
            arbitrary: Facts::parse(
                "hangar-verify:uid=12345\nhangar-verify:gid=0\nhangar-verify:logs_writable=yes\n\
                 hangar-verify:airflow_version_status=0\nhangar-verify:airflow_version=3.3.2\n\
                 hangar-verify:done=yes\n",
            ),
            arbitrary_tail: String::new(),
            scan: Facts::parse("hangar-verify:done=yes\n"),
        }
    }

    fn failed(checks: &[Check]) -> Vec<&'static str> {
        checks.iter().filter(|c| !c.passed).map(|c| c.id).collect()
    }

    #[test]
    fn a_production_image_passes_every_check() {
        let checks = evaluate(&good_config(), &good());
        assert_eq!(failed(&checks), Vec::<&str>::new(), "{checks:#?}");
        assert_eq!(checks.len(), 8);
        assert_eq!(checks[4].detail, "3.3.2");
    }

    #[test]
    fn a_root_image_without_entrypoint_or_airflow_home_fails_each_by_name() {
        let config = ImageConfig::default();
        let seen = Observed {
            default_user: Facts::parse(
                "hangar-verify:uid=0\nhangar-verify:gid=0\nhangar-verify:entrypoint_executable=no\n\
                 hangar-verify:airflow_version_status=127\nhangar-verify:airflow_version=sh: 1: airflow: not found\n\
                 hangar-verify:pip_check_status=127\nhangar-verify:pip_check=sh: 1: pip: not found\n\
                 hangar-verify:compiler=/usr/bin/gcc\nhangar-verify:build_package=build-essential\n\
                 hangar-verify:done=yes\n",
            ),
            arbitrary: Facts::default(),
            arbitrary_tail: "bash: not found".into(),
            scan: Facts::parse(
                "hangar-verify:credential_file=/root/.pypirc\nhangar-verify:done=yes\n",
            ),
        };
        let checks = evaluate(&config, &seen);
        assert_eq!(
            failed(&checks),
            [
                "default-user",
                "arbitrary-uid",
                "entrypoint",
                "airflow-home",
                "airflow-version",
                "pip-check",
                "no-build-tools",
                "no-credentials"
            ]
        );
        let detail = |id: &str| checks.iter().find(|c| c.id == id).unwrap().detail.clone();
        assert!(detail("default-user").starts_with("no USER (root): uid 0"));
        assert!(detail("default-user").contains("USER 50000"));
        assert!(detail("arbitrary-uid").contains("bash: not found"));
        assert!(detail("entrypoint").starts_with("no ENTRYPOINT"));
        assert!(detail("airflow-home").contains("ENV AIRFLOW_HOME"));
        assert!(detail("no-build-tools").contains("/usr/bin/gcc, package build-essential"));
        assert!(detail("no-credentials").contains("/root/.pypirc"));
    }

    #[test]
    fn each_part_of_a_check_can_fail_it_alone() {
        let mut seen = good();
        seen.default_user = Facts::parse(
            "hangar-verify:uid=50000\nhangar-verify:gid=0\nhangar-verify:entrypoint_executable=yes\n\
             hangar-verify:dir=0 755 /opt/airflow\nhangar-verify:dir=missing /opt/airflow/dags\n\
             hangar-verify:dir=50000 775 /opt/airflow/logs\n\
             hangar-verify:home=/home/airflow\nhangar-verify:home_root_owned=/home/airflow/.cache\n\
             hangar-verify:airflow_version_status=0\nhangar-verify:pip_check_status=1\n\
             hangar-verify:pip_check=apache-airflow 3.3.2 has requirement x>=2, but you have x 1.\n\
             hangar-verify:done=yes\n",
        );
        seen.arbitrary = Facts::parse(
            "hangar-verify:uid=12345\nhangar-verify:gid=0\nhangar-verify:logs_writable=no\n\
             hangar-verify:airflow_version_status=0\nhangar-verify:done=yes\n",
        );
        let mut config = good_config();
        config
            .env
            .push("PIP_EXTRA_INDEX_URL=https://me:s3cret@pypi.corp.example/simple".into());
        let checks = evaluate(&config, &seen);
        assert_eq!(
            failed(&checks),
            [
                "arbitrary-uid",
                "airflow-home",
                "pip-check",
                "no-credentials"
            ]
        );
        let detail = |id: &str| checks.iter().find(|c| c.id == id).unwrap().detail.clone();
        assert_eq!(
            detail("airflow-home"),
            "/opt/airflow is not group-writable (mode 755); /opt/airflow/dags is missing; \
             /opt/airflow/logs has group 50000, not 0; create them owned by group 0 with `chmod g+rwX`"
        );
        assert!(detail("arbitrary-uid").contains("cannot write to $AIRFLOW_HOME/logs"));
        assert!(detail("pip-check").contains("has requirement x>=2"));
        let creds = detail("no-credentials");
        assert!(creds.contains("ENV PIP_EXTRA_INDEX_URL holds a URL with a password"));
        assert!(!creds.contains("s3cret"), "{creds}");
        assert!(creds.contains("root-owned in /home/airflow: /home/airflow/.cache"));
    }

    #[test]
    fn only_urls_with_a_password_count_as_secrets_in_env() {
        let config = ImageConfig {
            env: vec![
                "A=https://pypi.org/simple".into(),
                "B=https://user@host/x".into(),
                "C=postgresql://u:p@db/airflow".into(),
                "D=https://host/path?q=a:b@c".into(),
                "E=no url".into(),
            ],
            ..ImageConfig::default()
        };
        assert_eq!(env_with_password(&config), ["C"]);
    }
}
