//! The engine and its settings: which engine, the tags, target and format, the
//! buildah/podman storage driver, isolation and timestamp, and the verbatim engine arguments.

use std::collections::BTreeMap;

use super::error::ResolveError;
use super::{ArgCatalogue, EnvFacts, Sources, Targets};
use crate::engine::{BuildSpec, SecretFile};
use crate::options::{BuildOptions, EngineChoice, ImageFormat, Origin, Sourced};

/// The engine asked for, else auto-detection.
pub(super) fn engine(o: &BuildOptions) -> Sourced<EngineChoice> {
    o.engine.clone().unwrap_or(Sourced {
        value: EngineChoice::Auto,
        origin: Origin::Derived("default: auto-detected".into()),
    })
}

/// Engine arguments are printed with the command line, so none may carry a credential.
pub(super) fn check_engine_args(
    o: &BuildOptions,
    catalogue: &dyn ArgCatalogue,
) -> Result<(), ResolveError> {
    if let Some(e) = &o.engine_arg
        && e.value.iter().any(|a| catalogue.looks_like_credential(a))
    {
        return Err(ResolveError::Invalid {
            origin: e.origin.clone(),
            value: "(not shown: it seems to contain a credential)".into(),
            reason: "engine arguments are printed and visible to every user of this machine; \
                         pass credentials as files with --pip-conf or --netrc"
                .into(),
        });
    }
    Ok(())
}

/// The image names to tag, none empty or with spaces.
pub(super) fn tags(o: &BuildOptions) -> Result<Vec<String>, ResolveError> {
    let tags = o.tag.as_ref().map(|t| t.value.clone()).unwrap_or_default();
    for t in &tags {
        if t.is_empty() || t.contains(char::is_whitespace) {
            let origin = o
                .tag
                .as_ref()
                .map_or(Origin::Flag("--tag".into()), |s| s.origin.clone());
            return Err(ResolveError::Invalid {
                origin,
                value: t.clone(),
                reason: "an image name has no spaces, e.g. my-registry/airflow:3.1.0".into(),
            });
        }
    }
    Ok(tags)
}

/// The engine command line's content from the resolved build args, secrets and tags and the
/// remaining settings, with where each build arg and secret came from.
pub(super) fn spec(
    o: &BuildOptions,
    env: &EnvFacts,
    args: BTreeMap<String, Sourced<String>>,
    secrets: Vec<(SecretFile, Origin)>,
    tags: Vec<String>,
    targets: &Targets,
) -> (BuildSpec, Sources) {
    let mut sources = Sources::default();
    let build_args = args
        .into_iter()
        .map(|(name, v)| {
            sources.build_args.insert(name.clone(), v.origin);
            (name, v.value)
        })
        .collect();
    let secrets = secrets
        .into_iter()
        .map(|(file, origin)| {
            sources.secrets.insert(file.id.clone(), origin);
            file
        })
        .collect();
    let spec = BuildSpec {
        build_args,
        secrets,
        tags,
        target: o.target.as_ref().map(|t| t.value.clone()),
        format: o.format.as_ref().map_or(ImageFormat::Docker, |f| f.value),
        storage_driver: o.storage_driver.as_ref().map(|s| s.value.clone()),
        platform: targets
            .platforms
            .as_ref()
            .map(|p| crate::platform::platform_value(&p.value)),
        isolation: env.buildah_isolation.clone().filter(|s| !s.is_empty()),
        timestamp: env.source_date_epoch.clone().filter(|s| !s.is_empty()),
        engine_args: o
            .engine_arg
            .as_ref()
            .map(|e| e.value.clone())
            .unwrap_or_default(),
    };
    (spec, sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawOptions;
    use crate::request::tests::{TestCatalogue, flags};

    #[test]
    fn auto_detection_by_default() {
        let e = engine(&flags(RawOptions::default()));
        assert_eq!(e.value, EngineChoice::Auto);
        assert_eq!(e.origin.to_string(), "default: auto-detected");
        let e = engine(&flags(RawOptions {
            engine: Some(EngineChoice::Podman),
            ..RawOptions::default()
        }));
        assert_eq!(e.origin, Origin::Flag("--engine".into()));
    }

    #[test]
    fn engine_args_with_a_credential_are_refused_unshown() {
        let o = flags(RawOptions {
            engine_arg: Some(vec!["--build-arg=T=https://u:secret@idx".into()]),
            ..RawOptions::default()
        });
        let err = check_engine_args(&o, &TestCatalogue)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--engine-arg") && !err.contains("secret@"),
            "{err}"
        );
        let o = flags(RawOptions {
            engine_arg: Some(vec!["--jobs".into(), "2".into()]),
            ..RawOptions::default()
        });
        assert!(check_engine_args(&o, &TestCatalogue).is_ok());
    }

    #[test]
    fn tags_have_no_spaces() {
        let o = flags(RawOptions {
            tag: Some(vec!["a:1".into(), "b c".into()]),
            ..RawOptions::default()
        });
        let err = tags(&o).unwrap_err().to_string();
        assert!(err.contains("--tag") && err.contains("\"b c\""), "{err}");
        let o = flags(RawOptions {
            tag: Some(vec!["a:1".into()]),
            ..RawOptions::default()
        });
        assert_eq!(tags(&o).unwrap(), ["a:1"]);
    }

    #[test]
    fn the_spec_keeps_values_and_sources_apart() {
        let o = flags(RawOptions {
            target: Some("build".into()),
            format: Some(ImageFormat::Oci),
            storage_driver: Some("vfs".into()),
            ..RawOptions::default()
        });
        let env = EnvFacts {
            buildah_isolation: Some(String::new()),
            source_date_epoch: Some("1700000000".into()),
            now: 0,
        };
        let args = BTreeMap::from([(
            "A".into(),
            Sourced {
                value: "1".into(),
                origin: Origin::Env("HANGAR_BUILD_ARG".into()),
            },
        )]);
        let secret = SecretFile {
            id: "netrc".into(),
            src: "/n".into(),
        };
        let (spec, sources) = spec(
            &o,
            &env,
            args,
            vec![(secret.clone(), Origin::Flag("--netrc".into()))],
            vec!["t:1".into()],
            &Targets::default(),
        );
        assert_eq!(
            spec,
            BuildSpec {
                build_args: vec![("A".into(), "1".into())],
                secrets: vec![secret],
                tags: vec!["t:1".into()],
                target: Some("build".into()),
                format: ImageFormat::Oci,
                storage_driver: Some("vfs".into()),
                platform: None,
                // An empty BUILDAH_ISOLATION is the engine's default.
                isolation: None,
                timestamp: Some("1700000000".into()),
                engine_args: vec![],
            }
        );
        assert_eq!(
            sources.build_args["A"],
            Origin::Env("HANGAR_BUILD_ARG".into())
        );
        assert_eq!(sources.secrets["netrc"], Origin::Flag("--netrc".into()));
    }
}
