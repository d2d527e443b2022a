//! The extend route's options: the base image, the project folder, and the refusal of the
//! customize route's options, which would have no effect on an image built FROM another.

use std::path::PathBuf;

use super::error::{ResolveError, invalid};
use crate::extend::{ExtendPlan, project};
use crate::options::{BuildOptions, Origin, Sourced};

/// The origins of the customize route's options that are set.
fn customize_only(o: &BuildOptions) -> Vec<Origin> {
    let mut set: Vec<Option<&Origin>> = vec![
        o.python.as_ref().map(|v| &v.origin),
        o.python_base_image.as_ref().map(|v| &v.origin),
        o.install_airflow_version.as_ref().map(|v| &v.origin),
        o.install_airflow_reference.as_ref().map(|v| &v.origin),
        o.airflow_sources.as_ref().map(|v| &v.origin),
        o.extras.as_ref().map(|v| &v.origin),
        o.additional_extras.as_ref().map(|v| &v.origin),
        o.additional_python_deps.as_ref().map(|v| &v.origin),
        o.additional_dev_apt_deps.as_ref().map(|v| &v.origin),
        o.additional_runtime_apt_deps.as_ref().map(|v| &v.origin),
        o.dev_apt_command.as_ref().map(|v| &v.origin),
        o.runtime_apt_command.as_ref().map(|v| &v.origin),
        o.constraints_location.as_ref().map(|v| &v.origin),
        o.context_files.as_ref().map(|v| &v.origin),
        o.dockerfile.as_ref().map(|v| &v.origin),
        o.target.as_ref().map(|v| &v.origin),
    ];
    for flag in [
        &o.disable_mysql_client_installation,
        &o.disable_pip_cache,
        &o.add_local_pip_wheels,
    ] {
        set.push(flag.as_ref().filter(|v| v.value).map(|v| &v.origin));
    }
    set.extend(o.build_args.values().map(|v| Some(&v.origin)));
    set.into_iter().flatten().cloned().collect()
}

/// The extend plan when the options ask for the extend route.
///
/// # Errors
/// A customize-route option alongside `--extend`, an empty image name, or a project that
/// cannot be read (a bad `packages.txt` line…).
pub(super) fn extend(o: &BuildOptions) -> Result<Option<ExtendPlan>, ResolveError> {
    let Some(image) = &o.extend else {
        if let Some(p) = &o.project {
            return Err(ResolveError::Needs {
                origin: p.origin.clone(),
                what:
                    "--extend IMAGE (the project folder is what the extend route adds to an image)"
                        .into(),
            });
        }
        return Ok(None);
    };
    if let Some(first) = customize_only(o).into_iter().next() {
        return Err(ResolveError::NotWithExtend {
            option: first,
            extend: image.origin.clone(),
        });
    }
    let name = image.value.0.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(invalid(
            image,
            "expected an image reference such as my-registry/airflow:3.3.2",
        ));
    }
    let dir = match (&o.project, &image.origin) {
        (Some(p), _) => p.value.clone(),
        (None, Origin::File { path, .. }) => path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), ToOwned::to_owned),
        (None, _) => PathBuf::from("."),
    };
    let project = project::read(&dir)?;
    Ok(Some(ExtendPlan {
        base: Sourced {
            value: name.to_owned(),
            origin: image.origin.clone(),
        },
        project,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{ExtendImage, RawOptions};
    use crate::request::tests::flags;

    fn raw(dir: &std::path::Path) -> RawOptions {
        RawOptions {
            extend: Some(ExtendImage("my/airflow:3.3.2".into())),
            project: Some(dir.to_path_buf()),
            ..RawOptions::default()
        }
    }

    #[test]
    fn the_project_is_read_with_the_base() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("packages.txt"), "jq\r\n# x\r\n").unwrap();
        let plan = extend(&flags(raw(d.path()))).unwrap().unwrap();
        assert_eq!(plan.base.value, "my/airflow:3.3.2");
        assert_eq!(plan.project.packages, ["jq"]);
        assert!(extend(&flags(RawOptions::default())).unwrap().is_none());
    }

    #[test]
    fn customize_options_and_a_lone_project_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let err = extend(&flags(RawOptions {
            install_airflow_version: Some("3.1.0".into()),
            ..raw(d.path())
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("flag --install-airflow-version"), "{err}");
        assert!(err.contains("flag --extend"), "{err}");
        let err = extend(&flags(RawOptions {
            project: Some(d.path().to_path_buf()),
            ..RawOptions::default()
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs --extend IMAGE"), "{err}");
        let err = extend(&flags(RawOptions {
            extend: Some(ExtendImage("a b".into())),
            ..raw(d.path())
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("image reference"), "{err}");
    }
}
