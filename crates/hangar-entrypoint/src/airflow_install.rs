//! Where the Airflow of this image is installed, found without starting Python: the first
//! `site-packages` (of `PYTHONPATH`, `$VIRTUAL_ENV`, the user's `~/.local`, `/usr/local`, then
//! Debian's `dist-packages`) that holds `airflow/migrations/versions`, and the version of the
//! distribution that installed it (`apache_airflow_core` on Airflow 3, `apache_airflow` before).

use std::fs;
use std::path::{Path, PathBuf};

use crate::env::ChildEnv;
use crate::error::EntrypointError;

/// `HANGAR_AIRFLOW_MIGRATIONS`: the migration files' folder, when hangar cannot find it.
pub const MIGRATIONS_VAR: &str = "HANGAR_AIRFLOW_MIGRATIONS";

/// The installed Airflow, as far as its migrations are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `…/site-packages/airflow/migrations/versions`.
    pub versions: PathBuf,
    /// The version from the distribution's `.dist-info`, or a description of where the files
    /// are when there is none.
    pub version: String,
}

/// Finds the installed Airflow. `root` is `/` outside tests.
///
/// # Errors
/// No Airflow installation was found: the error lists where hangar looked.
pub fn find(env: &ChildEnv, root: &Path) -> Result<Installed, EntrypointError> {
    if let Some(dir) = env.non_empty(MIGRATIONS_VAR) {
        let versions = PathBuf::from(dir);
        if !versions.is_dir() {
            return Err(EntrypointError::bad_input(
                MIGRATIONS_VAR,
                format!(
                    "{dir} is not a folder: point it at the airflow/migrations/versions folder \
                     of the Airflow installed in the image"
                ),
            ));
        }
        let version = versions
            .ancestors()
            .nth(3)
            .and_then(distribution_version)
            .unwrap_or_else(|| format!("(the Airflow of {dir})"));
        return Ok(Installed { versions, version });
    }
    let candidates = site_packages(env, root);
    for dir in &candidates {
        let versions = dir.join("airflow/migrations/versions");
        if versions.is_dir() {
            let version = distribution_version(dir)
                .unwrap_or_else(|| format!("(the Airflow in {})", dir.display()));
            return Ok(Installed { versions, version });
        }
    }
    let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    Err(EntrypointError::bad_input(
        MIGRATIONS_VAR,
        format!(
            "no Airflow installation found, so its migrations are unknown (looked in: {}). Run \
             this in the Airflow image, or set {MIGRATIONS_VAR} to the \
             airflow/migrations/versions folder",
            if looked.is_empty() {
                "nothing".to_owned()
            } else {
                looked.join(", ")
            }
        ),
    ))
}

/// The folders Python would import `airflow` from, in order, that exist.
fn site_packages(env: &ChildEnv, root: &Path) -> Vec<PathBuf> {
    let under_root = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    let mut dirs: Vec<PathBuf> = env
        .non_empty("PYTHONPATH")
        .map(|p| {
            p.split(':')
                .filter(|s| !s.is_empty())
                .map(|s| under_root(Path::new(s)))
                .collect()
        })
        .unwrap_or_default();
    let prefixes = [
        env.non_empty("VIRTUAL_ENV").map(PathBuf::from),
        env.non_empty("HOME").map(|h| Path::new(h).join(".local")),
        Some(PathBuf::from("/usr/local")),
    ];
    for prefix in prefixes.into_iter().flatten() {
        let lib = under_root(&prefix.join("lib"));
        let Ok(entries) = fs::read_dir(&lib) else {
            continue;
        };
        let mut pythons: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
            .map(|e| e.path().join("site-packages"))
            .collect();
        // Newest Python first, as a venv has one and a system may have several.
        pythons.sort();
        pythons.reverse();
        dirs.extend(pythons);
    }
    dirs.push(under_root(Path::new("/usr/lib/python3/dist-packages")));
    dirs.retain(|d| d.is_dir());
    dirs.dedup();
    dirs
}

/// The version of `apache-airflow-core` (Airflow 3) or `apache-airflow` in `site_packages`.
fn distribution_version(site_packages: &Path) -> Option<String> {
    let names: Vec<String> = fs::read_dir(site_packages)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ["apache_airflow_core-", "apache_airflow-"]
        .iter()
        .find_map(|prefix| {
            names.iter().find_map(|n| {
                n.strip_prefix(prefix)?
                    .strip_suffix(".dist-info")
                    .map(str::to_owned)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path, dirs: &[&str]) {
        for d in dirs {
            fs::create_dir_all(root.join(d)).unwrap();
        }
    }

    #[test]
    fn the_venv_of_the_image_is_found_with_its_airflow_version() {
        let root = tempfile::tempdir().unwrap();
        let sp = "home/airflow/.local/lib/python3.12/site-packages";
        tree(
            root.path(),
            &[
                &format!("{sp}/airflow/migrations/versions"),
                &format!("{sp}/apache_airflow_core-3.3.2.dist-info"),
                &format!("{sp}/apache_airflow-3.3.2.dist-info"),
                "usr/local/lib/python3.12/site-packages/airflow/migrations/versions",
            ],
        );
        let env = ChildEnv::from_pairs([("VIRTUAL_ENV", "/home/airflow/.local")]);
        let found = find(&env, root.path()).unwrap();
        assert_eq!(found.version, "3.3.2");
        assert_eq!(
            found.versions,
            root.path().join(sp).join("airflow/migrations/versions")
        );
    }

    #[test]
    fn airflow_2_is_named_by_its_one_distribution_and_pythonpath_comes_first() {
        let root = tempfile::tempdir().unwrap();
        tree(
            root.path(),
            &[
                "opt/extra/airflow/migrations/versions",
                "opt/extra/apache_airflow-2.10.5.dist-info",
                "usr/local/lib/python3.11/site-packages/airflow/migrations/versions",
            ],
        );
        let env = ChildEnv::from_pairs([("PYTHONPATH", "/opt/extra")]);
        let found = find(&env, root.path()).unwrap();
        assert_eq!(found.version, "2.10.5");
        assert!(found.versions.starts_with(root.path().join("opt/extra")));
    }

    #[test]
    fn nothing_installed_says_where_it_looked_and_what_to_set() {
        let root = tempfile::tempdir().unwrap();
        tree(root.path(), &["usr/local/lib/python3.11/site-packages"]);
        let err = find(&ChildEnv::from_pairs::<&str, &str>([]), root.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no Airflow installation found"), "{msg}");
        assert!(msg.contains("python3.11/site-packages"), "{msg}");
        assert!(msg.contains(MIGRATIONS_VAR), "{msg}");
    }

    #[test]
    fn the_variable_overrides_the_search() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("x/airflow/migrations/versions");
        fs::create_dir_all(&dir).unwrap();
        let env = ChildEnv::from_pairs([(MIGRATIONS_VAR, dir.to_str().unwrap())]);
        let found = find(&env, Path::new("/nonexistent")).unwrap();
        assert_eq!(found.versions, dir);
        assert!(
            found.version.contains("the Airflow of"),
            "{}",
            found.version
        );
        let env = ChildEnv::from_pairs([(MIGRATIONS_VAR, "/no/such/dir")]);
        assert!(find(&env, root.path()).is_err());
    }
}
