//! The extend route's options: the base image, the project folder, and the refusal of the
//! customize route's options, which would have no effect on an image built FROM another. In a
//! configuration file they are ignored with a warning instead: the `hangar.toml` of a project
//! describes both its customized base and its extension.

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
        &o.apt_sources_in_image,
    ] {
        set.push(flag.as_ref().filter(|v| v.value).map(|v| &v.origin));
    }
    set.extend(o.build_args.values().map(|v| Some(&v.origin)));
    set.into_iter().flatten().cloned().collect()
}

/// The extend plan when the options ask for the extend route, with a warning for each
/// customize-route option of the configuration file it ignores.
///
/// # Errors
/// A customize-route flag or variable alongside `--extend`, an empty image name, or a project
/// that cannot be read (a bad `packages.txt` line…).
pub(super) fn extend(o: &BuildOptions) -> Result<Option<(ExtendPlan, Vec<String>)>, ResolveError> {
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
    let (in_file, given): (Vec<Origin>, Vec<Origin>) = customize_only(o)
        .into_iter()
        .partition(|origin| matches!(origin, Origin::File { .. }));
    if let Some(first) = given.into_iter().next() {
        return Err(ResolveError::NotWithExtend {
            option: first,
            extend: image.origin.clone(),
        });
    }
    let warnings = in_file
        .iter()
        .map(|origin| format!("{origin} is for the customize route; the extend route ignores it"))
        .collect();
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
    let plan = ExtendPlan {
        base: Sourced {
            value: name.to_owned(),
            origin: image.origin.clone(),
        },
        project,
    };
    Ok(Some((plan, warnings)))
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
        let (plan, warnings) = extend(&flags(raw(d.path()))).unwrap().unwrap();
        assert!(warnings.is_empty());
        assert_eq!(plan.base.value, "my/airflow:3.3.2");
        assert_eq!(plan.project.packages, ["jq"]);
        assert!(extend(&flags(RawOptions::default())).unwrap().is_none());
    }

    #[test]
    fn customize_keys_of_the_file_are_ignored_with_a_warning() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("hangar.toml");
        let text = "install-airflow-version = \"3.3.2\"\npython = \"3.12\"\n[extend]\nimage = \"my/airflow:3\"\n";
        let raw = crate::options::parse_file(text, &file).unwrap();
        let o = crate::options::layered(
            RawOptions::default(),
            RawOptions::default(),
            Some((raw, &file)),
        );
        let (plan, warnings) = extend(&o).unwrap().unwrap();
        assert_eq!(
            plan.project.dir,
            d.path(),
            "the project is the file's folder"
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("is for the customize route; the extend route ignores it"),
            "{warnings:?}"
        );
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
