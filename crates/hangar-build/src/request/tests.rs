//! Resolution of whole option sets through [`resolve`], and the stand-ins the tests of each
//! step share.

use std::collections::BTreeMap;
use std::path::Path;

use super::args::Derived;
use super::*;
use crate::engine::SecretFile;
use crate::options::{Origin, RawOptions, layered};

/// A small stand-in catalogue for unit tests of the resolution rules; the real one is
/// exercised through the binary's tests.
pub(super) struct TestCatalogue;
impl ArgCatalogue for TestCatalogue {
    fn status(&self, name: &str) -> Option<ArgStatus> {
        match name {
            "AIRFLOW_WWW" => Some(ArgStatus::NoOp("the UI is always RBAC".into())),
            "AIRFLOW_INSTALL_VERSION" => Some(ArgStatus::Legacy("AIRFLOW_VERSION".into())),
            n if n.starts_with("AIRFLOW_")
                || n.starts_with("PYTHON_")
                || n.starts_with("ADDITIONAL_")
                || n.starts_with("INSTALL_")
                || n.ends_with("_APT_COMMAND")
                || n == "HANGAR_BINARY_SOURCE"
                || n == "DOCKER_CONTEXT_FILES" =>
            {
                Some(ArgStatus::Current)
            }
            _ => None,
        }
    }
    fn validate(&self, name: &str, value: &str) -> Result<(), String> {
        if name == "AIRFLOW_VERSION" && !value.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("expected a version such as 3.1.0".into());
        }
        Ok(())
    }
    fn looks_like_credential(&self, value: &str) -> bool {
        value.contains(":secret@")
    }
}

/// Options given as flags only.
pub(super) fn flags(raw: RawOptions) -> BuildOptions {
    layered(raw, RawOptions::default(), None)
}

/// The value of a derived build arg.
pub(super) fn value<'d>(d: &'d Derived, name: &str) -> Option<&'d str> {
    d.0.get(name).map(|s| s.value.as_str())
}

fn arg(plan: &Plan, name: &str) -> Option<String> {
    plan.spec
        .build_args
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn creation_date_from_source_date_epoch_or_now() {
    let env = EnvFacts {
        source_date_epoch: Some("1700000000".into()),
        now: 5,
        ..EnvFacts::default()
    };
    let p = resolve(&flags(RawOptions::default()), &env, &TestCatalogue).unwrap();
    assert_eq!(
        arg(&p, "AIRFLOW_IMAGE_DATE_CREATED").as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    assert_eq!(p.spec.timestamp.as_deref(), Some("1700000000"));
    let env = EnvFacts {
        now: 86_400,
        ..EnvFacts::default()
    };
    let p = resolve(&flags(RawOptions::default()), &env, &TestCatalogue).unwrap();
    assert_eq!(
        arg(&p, "AIRFLOW_IMAGE_DATE_CREATED").as_deref(),
        Some("1970-01-02T00:00:00Z")
    );
    let env = EnvFacts {
        source_date_epoch: Some("yesterday".into()),
        ..EnvFacts::default()
    };
    let err = resolve(&flags(RawOptions::default()), &env, &TestCatalogue)
        .unwrap_err()
        .to_string();
    assert!(err.contains("SOURCE_DATE_EPOCH"), "{err}");
}

#[test]
fn breeze_style_mapping() {
    let o = flags(RawOptions {
        python: Some("3.11".into()),
        install_airflow_version: Some("2.10.5".into()),
        additional_extras: Some("postgres,celery".into()),
        disable_mysql_client_installation: Some(true),
        disable_pip_cache: Some(true),
        ..RawOptions::default()
    });
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(
        arg(&p, "PYTHON_MAJOR_MINOR_VERSION").as_deref(),
        Some("3.11")
    );
    assert_eq!(
        arg(&p, "PYTHON_BASE_IMAGE").as_deref(),
        Some("python:3.11-slim-bookworm")
    );
    assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("2.10.5"));
    assert_eq!(
        arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
        Some("apache-airflow")
    );
    assert_eq!(
        arg(&p, "ADDITIONAL_AIRFLOW_EXTRAS").as_deref(),
        Some("postgres,celery")
    );
    assert_eq!(arg(&p, "INSTALL_MYSQL_CLIENT").as_deref(), Some("false"));
    assert_eq!(
        arg(&p, "AIRFLOW_PRE_CACHED_PIP_PACKAGES").as_deref(),
        Some("false")
    );
    assert_eq!(arg(&p, "HANGAR_BINARY_SOURCE").as_deref(), Some("context"));
    assert_eq!(
        p.sources.build_args["AIRFLOW_VERSION"],
        Origin::Flag("--install-airflow-version".into())
    );
}

#[test]
fn a_switch_set_to_false_keeps_the_default() {
    let file = RawOptions {
        disable_mysql_client_installation: Some(true),
        ..RawOptions::default()
    };
    let env =
        RawOptions::from_env([("HANGAR_DISABLE_MYSQL_CLIENT_INSTALLATION", "false")]).unwrap();
    let o = layered(
        RawOptions::default(),
        env,
        Some((file.clone(), Path::new("hangar.toml"))),
    );
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(arg(&p, "INSTALL_MYSQL_CLIENT"), None);
    let o = layered(
        RawOptions::default(),
        RawOptions::default(),
        Some((file, Path::new("hangar.toml"))),
    );
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(arg(&p, "INSTALL_MYSQL_CLIENT").as_deref(), Some("false"));
}

#[test]
fn reference_installs_from_a_github_archive() {
    let o = flags(RawOptions {
        install_airflow_reference: Some("v2.10.5".into()),
        ..RawOptions::default()
    });
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(
        arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
        Some("https://github.com/apache/airflow/archive/v2.10.5.tar.gz")
    );
    assert_eq!(
        arg(&p, "AIRFLOW_CONSTRAINTS_REFERENCE").as_deref(),
        Some("constraints-2.10.5")
    );
    let o = flags(RawOptions {
        install_airflow_reference: Some("main".into()),
        ..RawOptions::default()
    });
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(
        arg(&p, "AIRFLOW_CONSTRAINTS_REFERENCE").as_deref(),
        Some("constraints-main")
    );
    assert_eq!(arg(&p, "AIRFLOW_VERSION"), None);
}

#[test]
fn base_image_beats_the_python_default() {
    let o = flags(RawOptions {
        python: Some("3.12".into()),
        python_base_image: Some("localhost/python-base:bookworm".into()),
        ..RawOptions::default()
    });
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(
        arg(&p, "PYTHON_BASE_IMAGE").as_deref(),
        Some("localhost/python-base:bookworm")
    );
}

#[test]
fn invalid_inputs_name_themselves() {
    let cases: Vec<(RawOptions, &str)> = vec![
        (
            RawOptions {
                python: Some("3".into()),
                ..RawOptions::default()
            },
            "--python",
        ),
        (
            RawOptions {
                install_airflow_version: Some("latest".into()),
                ..RawOptions::default()
            },
            "AIRFLOW_VERSION",
        ),
        (
            RawOptions {
                install_airflow_version: Some("3.1.0".into()),
                install_airflow_reference: Some("main".into()),
                ..RawOptions::default()
            },
            "--install-airflow-reference",
        ),
        (
            RawOptions {
                context_files: Some("/nonexistent/hangar-files".into()),
                ..RawOptions::default()
            },
            "/nonexistent/hangar-files",
        ),
        (
            RawOptions {
                add_local_pip_wheels: Some(true),
                ..RawOptions::default()
            },
            "--context-files",
        ),
        (
            RawOptions {
                constraints_location: Some("missing-constraints.txt".into()),
                ..RawOptions::default()
            },
            "--constraints-location",
        ),
        (
            RawOptions {
                engine_arg: Some(vec!["--build-arg=TOKEN=https://u:secret@idx".into()]),
                ..RawOptions::default()
            },
            "--engine-arg",
        ),
        (
            RawOptions {
                ca_bundle: Some("/nonexistent/ca.pem".into()),
                ..RawOptions::default()
            },
            "--ca-bundle",
        ),
        (
            RawOptions {
                build_args: Some(BTreeMap::from([(
                    "ADDITIONAL_PYTHON_DEPS".into(),
                    "--index-url https://u:secret@idx/simple pkg".into(),
                )])),
                ..RawOptions::default()
            },
            "--pip-conf",
        ),
    ];
    for (raw, needle) in cases {
        let err = resolve(&flags(raw.clone()), &EnvFacts::default(), &TestCatalogue)
            .expect_err(&format!("{raw:?} must be refused"))
            .to_string();
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
}

#[test]
fn ca_bundle_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "hello").unwrap();
    let o = flags(RawOptions {
        ca_bundle: Some(bad),
        ..RawOptions::default()
    });
    let err = resolve(&o, &EnvFacts::default(), &TestCatalogue)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no PEM certificate"), "{err}");

    let good = dir.path().join("ca.pem");
    std::fs::write(
        &good,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let o = flags(RawOptions {
        ca_bundle: Some(good.clone()),
        ..RawOptions::default()
    });
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(
        p.spec.secrets[0],
        SecretFile {
            id: SECRET_CA.into(),
            src: good
        }
    );
}

#[test]
fn pass_through_args_follow_layer_precedence() {
    // A file-level build arg loses to a flag-derived one…
    let file = RawOptions {
        build_args: Some(BTreeMap::from([(
            "AIRFLOW_VERSION".into(),
            "2.10.5".into(),
        )])),
        ..RawOptions::default()
    };
    let fl = RawOptions {
        install_airflow_version: Some("3.1.0".into()),
        ..RawOptions::default()
    };
    let o = layered(
        fl,
        RawOptions::default(),
        Some((file, Path::new("hangar.toml"))),
    );
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("3.1.0"));
    // …a flag-level one beats a file-derived one…
    let file = RawOptions {
        install_airflow_version: Some("2.10.5".into()),
        ..RawOptions::default()
    };
    let fl = RawOptions {
        build_args: Some(BTreeMap::from([("AIRFLOW_VERSION".into(), "3.1.0".into())])),
        ..RawOptions::default()
    };
    let o = layered(
        fl,
        RawOptions::default(),
        Some((file, Path::new("hangar.toml"))),
    );
    let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("3.1.0"));
    // …and two flags that disagree are an error.
    let fl = RawOptions {
        install_airflow_version: Some("2.10.5".into()),
        build_args: Some(BTreeMap::from([("AIRFLOW_VERSION".into(), "3.1.0".into())])),
        ..RawOptions::default()
    };
    let err = resolve(&flags(fl), &EnvFacts::default(), &TestCatalogue)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--install-airflow-version") && err.contains("--build-arg AIRFLOW_VERSION"),
        "{err}"
    );
}

#[test]
fn warnings_for_legacy_noop_and_unknown_args() {
    let fl = RawOptions {
        build_args: Some(BTreeMap::from([
            ("AIRFLOW_WWW".into(), "www".into()),
            ("AIRFLOW_INSTALL_VERSION".into(), "==3.1.0".into()),
            ("MY_OWN".into(), "x".into()),
        ])),
        ..RawOptions::default()
    };
    let p = resolve(&flags(fl), &EnvFacts::default(), &TestCatalogue).unwrap();
    let w = p.warnings.join("\n");
    assert!(w.contains("AIRFLOW_WWW") && w.contains("no effect"), "{w}");
    assert!(
        w.contains("AIRFLOW_INSTALL_VERSION") && w.contains("prefer AIRFLOW_VERSION"),
        "{w}"
    );
    assert!(w.contains("MY_OWN") && w.contains("not declared"), "{w}");
}

#[test]
fn a_local_wheel_is_installed_from_its_path_in_the_build_stage() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = dir.path().join("apache_airflow-3.1.0-py3-none-any.whl");
    std::fs::write(&wheel, "PK").unwrap();
    let raw = RawOptions {
        airflow_sources: Some(wheel.display().to_string()),
        ..RawOptions::default()
    };
    let p = resolve(&flags(raw), &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(
        arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
        Some("/opt/airflow-sources/apache_airflow-3.1.0-py3-none-any.whl")
    );
    assert_eq!(
        arg(&p, "AIRFLOW_SOURCES_FROM").as_deref(),
        Some("airflow-sources")
    );
    assert_eq!(p.context.airflow_sources.as_deref(), Some(wheel.as_path()));
    assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("3.1.0"));
    let txt = dir.path().join("airflow.txt");
    std::fs::write(&txt, "").unwrap();
    let raw = RawOptions {
        airflow_sources: Some(txt.display().to_string()),
        ..RawOptions::default()
    };
    let err = resolve(&flags(raw), &EnvFacts::default(), &TestCatalogue).unwrap_err();
    assert!(err.to_string().contains(".whl"), "{err}");
}

#[test]
fn local_sources_and_constraints_go_into_the_context() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("airflow");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("pyproject.toml"), "").unwrap();
    let constraints = dir.path().join("constraints-3.12.txt");
    std::fs::write(&constraints, "rich==13\n").unwrap();
    let raw = RawOptions {
        airflow_sources: Some(tree.display().to_string()),
        constraints_location: Some(constraints.display().to_string()),
        ..RawOptions::default()
    };
    let p = resolve(&flags(raw), &EnvFacts::default(), &TestCatalogue).unwrap();
    assert_eq!(p.context.airflow_sources.as_deref(), Some(tree.as_path()));
    assert_eq!(
        arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
        Some("/opt/airflow-sources")
    );
    assert_eq!(
        arg(&p, "DOCKER_CONTEXT_FILES").as_deref(),
        Some("docker-context-files")
    );
    assert_eq!(p.context.extra_context_files, [constraints]);
    assert_eq!(
        arg(&p, "AIRFLOW_CONSTRAINTS_LOCATION").as_deref(),
        Some("/docker-context-files/constraints-3.12.txt")
    );
    assert_eq!(
        arg(&p, "AIRFLOW_SOURCES_FROM").as_deref(),
        Some("airflow-sources")
    );
}
