//! What else goes into the image: extras, extra Python and apt packages, the apt commands,
//! and the switches that leave the MySQL client or the pip cache out.

use super::args::Derived;
use crate::options::BuildOptions;

/// Sets the build args that the options name one to one.
pub(super) fn packages(o: &BuildOptions, d: &mut Derived) {
    let direct = [
        (&o.extras, "AIRFLOW_EXTRAS"),
        (&o.additional_extras, "ADDITIONAL_AIRFLOW_EXTRAS"),
        (&o.additional_python_deps, "ADDITIONAL_PYTHON_DEPS"),
        (&o.additional_dev_apt_deps, "ADDITIONAL_DEV_APT_DEPS"),
        (
            &o.additional_runtime_apt_deps,
            "ADDITIONAL_RUNTIME_APT_DEPS",
        ),
        (&o.dev_apt_command, "DEV_APT_COMMAND"),
        (&o.runtime_apt_command, "RUNTIME_APT_COMMAND"),
    ];
    for (opt, name) in direct {
        if let Some(v) = opt {
            d.set(name, &v.value, &v.origin);
        }
    }
    // A switch set to false (e.g. to override a file from the environment) leaves the
    // Dockerfile's default in place.
    if let Some(b) = o
        .disable_mysql_client_installation
        .as_ref()
        .filter(|b| b.value)
    {
        d.set("INSTALL_MYSQL_CLIENT", "false", &b.origin);
    }
    if let Some(b) = o.disable_pip_cache.as_ref().filter(|b| b.value) {
        d.set("AIRFLOW_PRE_CACHED_PIP_PACKAGES", "false", &b.origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Origin, RawOptions};
    use crate::request::tests::{flags, value};

    fn derive(raw: RawOptions) -> Derived {
        let mut d = Derived::default();
        packages(&flags(raw), &mut d);
        d
    }

    #[test]
    fn options_map_to_their_build_args() {
        let d = derive(RawOptions {
            extras: Some("celery".into()),
            additional_python_deps: Some("rich".into()),
            runtime_apt_command: Some("true".into()),
            ..RawOptions::default()
        });
        assert_eq!(value(&d, "AIRFLOW_EXTRAS"), Some("celery"));
        assert_eq!(value(&d, "ADDITIONAL_PYTHON_DEPS"), Some("rich"));
        assert_eq!(value(&d, "RUNTIME_APT_COMMAND"), Some("true"));
        assert_eq!(d.0.len(), 3);
        assert_eq!(
            d.0["AIRFLOW_EXTRAS"].origin,
            Origin::Flag("--extras".into())
        );
    }

    #[test]
    fn switches_set_only_when_true() {
        let d = derive(RawOptions {
            disable_mysql_client_installation: Some(true),
            disable_pip_cache: Some(false),
            ..RawOptions::default()
        });
        assert_eq!(value(&d, "INSTALL_MYSQL_CLIENT"), Some("false"));
        assert_eq!(value(&d, "AIRFLOW_PRE_CACHED_PIP_PACKAGES"), None);
    }
}
