//! The build args: those hangar derives from the options, merged with the pass-through ones
//! by layer precedence, then checked against the Dockerfile's catalogue.

use std::collections::BTreeMap;

use super::error::ResolveError;
use super::{ArgCatalogue, ArgStatus};
use crate::options::{Origin, Sourced};

/// Build args derived from the options, before the pass-through ones are merged in.
#[derive(Debug, Default)]
pub(super) struct Derived(pub(super) BTreeMap<String, Sourced<String>>);

impl Derived {
    pub(super) fn set(&mut self, name: &str, value: impl Into<String>, origin: &Origin) {
        self.0.insert(
            name.to_owned(),
            Sourced {
                value: value.into(),
                origin: origin.clone(),
            },
        );
    }
}

/// Tells the Dockerfile that hangar's binary is in the context.
pub(super) fn hangar_binary(d: &mut Derived) {
    let origin = Origin::Derived("set by hangar: its own binary is in the build context".into());
    d.set("HANGAR_BINARY_SOURCE", "context", &origin);
}

/// Rank of a layer: flags over environment over file over values hangar derives itself.
fn rank(o: &Origin) -> u8 {
    match o {
        Origin::Flag(_) => 3,
        Origin::Env(_) => 2,
        Origin::File { .. } => 1,
        Origin::Derived(_) => 0,
    }
}

/// Merges the pass-through build args into the derived ones: for the same name the higher
/// layer wins, and two different values from the same layer are a conflict.
pub(super) fn merge(
    d: Derived,
    given: &BTreeMap<String, Sourced<String>>,
) -> Result<BTreeMap<String, Sourced<String>>, ResolveError> {
    let mut args = d.0;
    for (name, given) in given {
        match args.get(name) {
            Some(derived) if derived.value != given.value => {
                let (dr, gr) = (rank(&derived.origin), rank(&given.origin));
                if gr == dr {
                    return Err(ResolveError::ArgConflict {
                        name: name.clone(),
                        sides: Box::new((
                            derived.origin.clone(),
                            derived.value.clone(),
                            given.origin.clone(),
                            given.value.clone(),
                        )),
                    });
                }
                if gr > dr {
                    args.insert(name.clone(), given.clone());
                }
            }
            _ => {
                args.insert(name.clone(), given.clone());
            }
        }
    }
    Ok(args)
}

/// Refuses credentials and values the catalogue rejects; returns the warnings for legacy,
/// no-op and (for hangar's own Dockerfile, `embedded`) undeclared build args.
pub(super) fn check(
    args: &BTreeMap<String, Sourced<String>>,
    catalogue: &dyn ArgCatalogue,
    embedded: bool,
) -> Result<Vec<String>, ResolveError> {
    let mut warnings = Vec::new();
    for (name, v) in args {
        if catalogue.looks_like_credential(&v.value) {
            return Err(ResolveError::Credential {
                name: name.clone(),
                origin: v.origin.clone(),
            });
        }
        match catalogue.status(name) {
            Some(status) => {
                catalogue
                    .validate(name, &v.value)
                    .map_err(|reason| ResolveError::BadArg {
                        name: name.clone(),
                        value: v.value.clone(),
                        origin: v.origin.clone(),
                        reason,
                    })?;
                match status {
                    ArgStatus::Current => {}
                    ArgStatus::Legacy(by) => warnings.push(format!(
                        "build arg {name} (from {}) is a legacy name; it is honoured, but prefer {by}",
                        v.origin
                    )),
                    ArgStatus::NoOp(why) => warnings.push(format!(
                        "build arg {name} (from {}) has no effect: {why}",
                        v.origin
                    )),
                }
            }
            None if embedded => warnings.push(format!(
                "build arg {name} (from {}) is not declared by hangar's Dockerfile and will be ignored",
                v.origin
            )),
            None => {}
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::tests::TestCatalogue;

    fn sourced(value: &str, origin: Origin) -> Sourced<String> {
        Sourced {
            value: value.into(),
            origin,
        }
    }

    fn derived(name: &str, value: &str, origin: Origin) -> Derived {
        let mut d = Derived::default();
        d.set(name, value, &origin);
        d
    }

    #[test]
    fn the_higher_layer_wins() {
        let file = Origin::File {
            path: "hangar.toml".into(),
            key: "build-args.A".into(),
        };
        let given = BTreeMap::from([("A".into(), sourced("given", file.clone()))]);
        let d = derived("A", "derived", Origin::Flag("--x".into()));
        assert_eq!(merge(d, &given).unwrap()["A"].value, "derived");
        let d = derived("A", "derived", Origin::Derived("hangar".into()));
        assert_eq!(merge(d, &given).unwrap()["A"].origin, file);
        let given = BTreeMap::from([(
            "B".into(),
            sourced("b", Origin::Env("HANGAR_BUILD_ARG".into())),
        )]);
        let args = merge(derived("A", "a", Origin::Flag("--x".into())), &given).unwrap();
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn same_layer_different_values_conflict() {
        let given = BTreeMap::from([(
            "A".into(),
            sourced("2", Origin::Env("HANGAR_BUILD_ARG".into())),
        )]);
        let d = derived("A", "1", Origin::Env("HANGAR_A".into()));
        let err = merge(d, &given).unwrap_err().to_string();
        assert_eq!(
            err,
            "build arg A is set to \"1\" by environment variable HANGAR_A and to \"2\" by \
             environment variable HANGAR_BUILD_ARG; remove one of them"
        );
        // The same value twice is no conflict.
        let d = derived("A", "2", Origin::Env("HANGAR_A".into()));
        assert!(merge(d, &given).is_ok());
    }

    #[test]
    fn the_catalogue_refuses_and_warns() {
        let flag = || Origin::Flag("--build-arg X".into());
        let args = BTreeMap::from([("AIRFLOW_VERSION".into(), sourced("latest", flag()))]);
        let err = check(&args, &TestCatalogue, true).unwrap_err().to_string();
        assert!(err.contains("expected a version"), "{err}");
        let args = BTreeMap::from([("X".into(), sourced("https://u:secret@idx", flag()))]);
        let err = check(&args, &TestCatalogue, true).unwrap_err();
        assert!(matches!(err, ResolveError::Credential { .. }), "{err}");
        let args = BTreeMap::from([
            ("AIRFLOW_WWW".into(), sourced("x", flag())),
            ("MY_OWN".into(), sourced("x", flag())),
        ]);
        let w = check(&args, &TestCatalogue, true).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        // Another Dockerfile may declare args hangar does not know.
        let w = check(&args, &TestCatalogue, false).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("AIRFLOW_WWW"), "{w:?}");
    }
}
