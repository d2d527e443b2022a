//! The image's creation date: `SOURCE_DATE_EPOCH` for reproducible builds, else the build time.

use super::EnvFacts;
use super::args::Derived;
use super::error::ResolveError;
use crate::options::{BuildOptions, Origin};

/// Formats seconds since the Unix epoch as RFC 3339 in UTC (`2023-11-14T22:13:20Z`).
#[must_use]
pub fn rfc3339(secs: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Sets `AIRFLOW_IMAGE_DATE_CREATED` for hangar's own Dockerfile (another Dockerfile may not
/// declare it).
pub(super) fn image_date(
    o: &BuildOptions,
    env: &EnvFacts,
    d: &mut Derived,
) -> Result<(), ResolveError> {
    if o.dockerfile.is_some() {
        return Ok(());
    }
    let (secs, origin) = match env.source_date_epoch.as_deref().map(str::parse::<u64>) {
        Some(Ok(secs)) => (secs, "set by hangar from SOURCE_DATE_EPOCH"),
        Some(Err(_)) => {
            return Err(ResolveError::Invalid {
                origin: Origin::Env("SOURCE_DATE_EPOCH".into()),
                value: env.source_date_epoch.clone().unwrap_or_default(),
                reason: "expected seconds since 1970-01-01, e.g. $(git log -1 --format=%ct)".into(),
            });
        }
        None => (env.now, "set by hangar: the build time"),
    };
    d.set(
        "AIRFLOW_IMAGE_DATE_CREATED",
        rfc3339(secs),
        &Origin::Derived(origin.into()),
    );
    if env.source_date_epoch.is_some() {
        // The install steps' Python then writes hash-checked bytecode (no timestamps), and
        // BuildKit versions that know the arg date the image by it.
        d.set(
            "SOURCE_DATE_EPOCH",
            secs.to_string(),
            &Origin::Derived("set by hangar from SOURCE_DATE_EPOCH".into()),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawOptions;
    use crate::request::tests::{flags, value};

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn source_date_epoch_over_the_build_time() {
        let o = flags(RawOptions::default());
        let mut d = Derived::default();
        let env = EnvFacts {
            source_date_epoch: Some("1700000000".into()),
            now: 5,
            ..EnvFacts::default()
        };
        image_date(&o, &env, &mut d).unwrap();
        assert_eq!(
            value(&d, "AIRFLOW_IMAGE_DATE_CREATED"),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            d.0["AIRFLOW_IMAGE_DATE_CREATED"].origin.to_string(),
            "set by hangar from SOURCE_DATE_EPOCH"
        );
        let env = EnvFacts {
            now: 86_400,
            ..EnvFacts::default()
        };
        image_date(&o, &env, &mut d).unwrap();
        assert_eq!(
            value(&d, "AIRFLOW_IMAGE_DATE_CREATED"),
            Some("1970-01-02T00:00:00Z")
        );
    }

    #[test]
    fn a_malformed_epoch_is_refused() {
        let env = EnvFacts {
            source_date_epoch: Some("yesterday".into()),
            ..EnvFacts::default()
        };
        let err = image_date(&flags(RawOptions::default()), &env, &mut Derived::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("environment variable SOURCE_DATE_EPOCH") && err.contains("yesterday"),
            "{err}"
        );
    }

    #[test]
    fn not_set_for_another_dockerfile() {
        let o = flags(RawOptions {
            dockerfile: Some("/some/Dockerfile".into()),
            ..RawOptions::default()
        });
        let mut d = Derived::default();
        image_date(&o, &EnvFacts::default(), &mut d).unwrap();
        assert!(d.0.is_empty());
    }
}
