//! The build-arg catalogue of hangar's Dockerfile ([`hangar_buildargs`]) as seen by the
//! front end.

use hangar_buildargs::{self as spec, SpecError, Status};

use crate::request::{ArgCatalogue, ArgStatus};

/// [`ArgCatalogue`] backed by [`hangar_buildargs`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SpecCatalogue;

impl ArgCatalogue for SpecCatalogue {
    fn status(&self, name: &str) -> Option<ArgStatus> {
        spec::find(name).map(|arg| match arg.status {
            Status::Current => ArgStatus::Current,
            Status::Legacy { replaced_by } => ArgStatus::Legacy(replaced_by.to_owned()),
            Status::NoOp { reason } => ArgStatus::NoOp(reason.to_owned()),
        })
    }

    fn validate(&self, name: &str, value: &str) -> Result<(), String> {
        spec::validate(name, value).map_err(|e| match e {
            SpecError::Invalid { problem, fix, .. } => format!("{problem}; {fix}"),
            other => other.to_string(),
        })
    }

    fn looks_like_credential(&self, value: &str) -> bool {
        spec::looks_like_credential(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_real_catalogue() {
        let c = SpecCatalogue;
        assert_eq!(c.status("AIRFLOW_VERSION"), Some(ArgStatus::Current));
        assert!(matches!(c.status("AIRFLOW_WWW"), Some(ArgStatus::NoOp(_))));
        assert!(matches!(
            c.status("AIRFLOW_INSTALL_VERSION"),
            Some(ArgStatus::Legacy(_))
        ));
        assert_eq!(c.status("NOT_AN_ARG"), None);
        assert!(c.validate("AIRFLOW_EXTRAS", "postgres,celery").is_ok());
        let err = c.validate("AIRFLOW_EXTRAS", "postgres;rm -rf").unwrap_err();
        assert!(err.contains("extra"), "{err}");
        assert!(c.looks_like_credential("https://user:pw@example.org/simple"));
        assert!(!c.looks_like_credential("https://example.org/simple"));
    }
}
