//! The extend route (`hangar build --extend IMAGE`): an image FROM an existing Airflow image
//! with a project's apt packages, requirements, plugins, include files and DAGs, through
//! hangar's extend Dockerfile. The base image is read first ([`base`]) so that the build
//! keeps its Airflow version and its user.

pub mod base;
pub mod project;

use sha2::{Digest, Sha256};

use self::base::BaseFacts;
use self::project::Project;
use crate::options::Sourced;

/// The Dockerfile of the extend route, compiled into hangar.
pub const DOCKERFILE: &str = include_str!("Dockerfile");

/// Shown by `--dry-run` for the build args read from the base image at build time.
pub const FROM_BASE: &str = "<read from the base image>";

/// A validated extend build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendPlan {
    /// The image built FROM.
    pub base: Sourced<String>,
    pub project: Project,
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The build args of the extend Dockerfile; `facts` is `None` for `--dry-run`.
#[must_use]
pub fn build_args(plan: &ExtendPlan, facts: Option<&BaseFacts>) -> Vec<(String, String)> {
    let from_base =
        |f: &dyn Fn(&BaseFacts) -> String| facts.map_or_else(|| FROM_BASE.to_owned(), f);
    vec![
        ("BASE_IMAGE".into(), plan.base.value.clone()),
        ("BASE_USER".into(), from_base(&|f| f.uid.to_string())),
        ("AIRFLOW_UID".into(), from_base(&|f| f.uid.to_string())),
        (
            "AIRFLOW_HOME".into(),
            from_base(&|f| f.airflow_home.clone()),
        ),
        (
            "BASE_AIRFLOW_VERSION".into(),
            from_base(&|f| f.airflow_version.clone()),
        ),
        (
            "HANGAR_APT_PACKAGES".into(),
            plan.project.packages.join(" "),
        ),
        (
            "HANGAR_REQUIREMENTS_SHA256".into(),
            hex_sha256(&plan.project.requirements),
        ),
    ]
}

/// One line naming the base and what was read from it.
#[must_use]
pub fn describe_base(image: &str, f: &BaseFacts) -> String {
    format!(
        "extending {image}: Airflow {}, UID {}, AIRFLOW_HOME {}, {}",
        f.airflow_version,
        f.uid,
        f.airflow_home,
        if f.constraints {
            "its ~/constraints.txt applies to requirements.txt"
        } else {
            "no ~/constraints.txt (requirements.txt is installed with Airflow pinned only)"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Origin;

    fn plan() -> ExtendPlan {
        ExtendPlan {
            base: Sourced {
                value: "my/airflow:3.3.2".into(),
                origin: Origin::Flag("--extend".into()),
            },
            project: Project {
                dir: "/p".into(),
                packages: vec!["jq".into(), "curl".into()],
                requirements: "rich\n".into(),
            },
        }
    }

    #[test]
    fn build_args_come_from_the_project_and_the_base() {
        let facts = BaseFacts {
            airflow_version: "3.3.2".into(),
            uid: 50000,
            airflow_home: "/opt/airflow".into(),
            constraints: true,
        };
        let args = build_args(&plan(), Some(&facts));
        let get = |k: &str| {
            args.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(get("BASE_IMAGE"), "my/airflow:3.3.2");
        assert_eq!(get("BASE_USER"), "50000");
        assert_eq!(get("AIRFLOW_HOME"), "/opt/airflow");
        assert_eq!(get("BASE_AIRFLOW_VERSION"), "3.3.2");
        assert_eq!(get("HANGAR_APT_PACKAGES"), "jq curl");
        assert_eq!(get("HANGAR_REQUIREMENTS_SHA256"), hex_sha256("rich\n"));
        assert_eq!(hex_sha256("").len(), 64);
        let dry = build_args(&plan(), None);
        assert!(
            dry.iter()
                .any(|(k, v)| k == "BASE_AIRFLOW_VERSION" && v == FROM_BASE)
        );
    }

    #[test]
    fn every_build_arg_is_declared_by_the_dockerfile() {
        for (name, _) in build_args(&plan(), None) {
            assert!(
                DOCKERFILE.contains(&format!(" {name}")),
                "{name} not in the extend Dockerfile"
            );
        }
        for banned in ["<<", "--link", "SHELL"] {
            assert!(
                !DOCKERFILE
                    .lines()
                    .any(|l| !l.starts_with('#') && l.contains(banned)),
                "{banned}"
            );
        }
    }
}
