//! The image's `~/constraints.txt` also pins the Airflow it holds (`apache-airflow==X`, and
//! `apache-airflow-core==X` on Airflow 3), so that an extension installing with
//! `--constraint ~/constraints.txt`, as Airflow's own docs tell it to, cannot change Airflow:
//! pip refuses and names the package that asked for another version.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::pin::{AIRFLOW_DISTRIBUTIONS, normalize, split_requirement};

/// The Airflow distributions installed in `venv`, with their versions, read from the
/// `*.dist-info` folder names of its site-packages.
///
/// # Errors
/// The site-packages folder cannot be listed.
pub fn installed(venv: &Path) -> io::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    let lib = venv.join("lib");
    if !lib.is_dir() {
        return Ok(found);
    }
    for py in fs::read_dir(&lib)? {
        let site = py?.path().join("site-packages");
        if !site.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&site)? {
            let name = entry?.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".dist-info")) else {
                continue;
            };
            let Some((dist, version)) = stem.rsplit_once('-') else {
                continue;
            };
            let dist = normalize(dist);
            if AIRFLOW_DISTRIBUTIONS.contains(&dist.as_str()) {
                found.push((dist, version.to_owned()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Adds `name==version` for each pin that `file` does not already constrain; creates the file
/// (owned by `owner`) when it is missing. Written through a temporary file and a rename.
/// Returns whether the file changed.
///
/// # Errors
/// The file cannot be read or written.
pub fn pin(file: &Path, pins: &[(String, String)], owner: Option<u32>) -> io::Result<bool> {
    let existing = match fs::read_to_string(file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let text = existing.clone().unwrap_or_default();
    let constrained = |name: &str| {
        text.lines()
            .any(|l| split_requirement(l).is_some_and(|(n, _)| n == name))
    };
    let mut out = text.clone();
    for (name, version) in pins {
        if !constrained(name) {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{name}=={version}\n"));
        }
    }
    if existing.as_deref() == Some(out.as_str()) || (existing.is_none() && out.is_empty()) {
        return Ok(false);
    }
    let tmp: PathBuf = file.with_extension("txt.hangar-tmp");
    fs::write(&tmp, &out)?;
    if let Some(meta) = existing.as_ref().and_then(|_| fs::metadata(file).ok()) {
        fs::set_permissions(&tmp, meta.permissions())?;
        use std::os::unix::fs::MetadataExt;
        std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()))?;
    } else if let Some(uid) = owner {
        // Created by root in the build: the group is already root's, 0.
        std::os::unix::fs::chown(&tmp, Some(uid), None)?;
    }
    fs::rename(&tmp, file)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venv_with(dists: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let site = d.path().join("lib/python3.12/site-packages");
        for dist in dists {
            fs::create_dir_all(site.join(dist)).unwrap();
        }
        d
    }

    #[test]
    fn the_installed_airflow_is_read_from_its_dist_info() {
        let v = venv_with(&[
            "apache_airflow-3.3.2.dist-info",
            "apache_airflow_core-3.3.2.dist-info",
            "apache_airflow_providers_http-5.0.0.dist-info",
            "airflow",
        ]);
        assert_eq!(
            installed(v.path()).unwrap(),
            [
                ("apache-airflow".to_owned(), "3.3.2".to_owned()),
                ("apache-airflow-core".to_owned(), "3.3.2".to_owned())
            ]
        );
        assert!(installed(&v.path().join("none")).unwrap().is_empty());
    }

    #[test]
    fn pins_are_added_once_and_kept_when_present() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("constraints.txt");
        fs::write(&file, "# generated\nrich==13.0").unwrap();
        let pins = [
            ("apache-airflow".to_owned(), "3.3.2".to_owned()),
            ("apache-airflow-core".to_owned(), "3.3.2".to_owned()),
        ];
        assert!(pin(&file, &pins, None).unwrap());
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            "# generated\nrich==13.0\napache-airflow==3.3.2\napache-airflow-core==3.3.2\n"
        );
        assert!(
            !pin(&file, &pins, None).unwrap(),
            "a second run changes nothing"
        );
        fs::write(&file, "Apache_Airflow==3.3.2\n").unwrap();
        pin(&file, &pins[..1], None).unwrap();
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "Apache_Airflow==3.3.2\n"
        );
    }

    #[test]
    fn a_missing_file_is_created_with_the_pins_only() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("constraints.txt");
        let uid = std::os::unix::fs::MetadataExt::uid(&fs::metadata(d.path()).unwrap());
        assert!(!pin(&file, &[], Some(uid)).unwrap());
        assert!(!file.exists());
        pin(
            &file,
            &[("apache-airflow".into(), "2.10.5".into())],
            Some(uid),
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "apache-airflow==2.10.5\n"
        );
    }
}
