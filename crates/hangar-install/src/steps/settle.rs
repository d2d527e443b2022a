//! `hangar install settle`: the final stage's step after the additional layer. It removes what
//! the additional install removed, then pins the installed Airflow in `~/constraints.txt`.

use super::Paths;
use crate::InstallError;
use crate::airflow_pin;
use crate::args::BuildArgs;

/// `hangar install settle`.
pub fn settle_step(a: &BuildArgs, paths: &Paths) -> Result<(), InstallError> {
    let home = paths.at(&a.home());
    crate::layer::apply_removals(&home)?;
    let venv = paths.at(&a.venv());
    let pins = airflow_pin::installed(&venv).map_err(|source| InstallError::Read {
        path: venv.clone(),
        source,
    })?;
    let file = home.join("constraints.txt");
    airflow_pin::pin(&file, &pins, a.get("AIRFLOW_UID").parse().ok()).map_err(|source| {
        InstallError::Io {
            path: file.clone(),
            source,
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::REMOVED_LIST;

    #[test]
    fn removals_are_applied_then_airflow_is_pinned() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home/airflow");
        let site = home.join(".local/lib/python3.12/site-packages");
        std::fs::create_dir_all(site.join("apache_airflow-3.3.2.dist-info")).unwrap();
        std::fs::write(site.join("old.py"), "").unwrap();
        std::fs::write(
            home.join(REMOVED_LIST),
            ".local/lib/python3.12/site-packages/old.py\0",
        )
        .unwrap();
        std::fs::write(home.join("constraints.txt"), "rich==13.0\n").unwrap();
        let paths = Paths {
            root: d.path().to_path_buf(),
            ..Paths::default()
        };
        settle_step(&BuildArgs::from_pairs(&[]), &paths).unwrap();
        assert!(!site.join("old.py").exists() && !home.join(REMOVED_LIST).exists());
        assert_eq!(
            std::fs::read_to_string(home.join("constraints.txt")).unwrap(),
            "rich==13.0\napache-airflow==3.3.2\n"
        );
    }
}
