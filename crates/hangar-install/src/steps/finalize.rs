//! `hangar install finalize`: the final image's `airflow` user, its directories and the
//! `/entrypoint` link.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Paths, run};
use crate::InstallError;
use crate::args::BuildArgs;
use crate::exec::{Cmd, Exec};

/// The `useradd` command of the final image's user: UID from the build arg, group 0.
pub fn useradd_cmd(uid: &str, home: &Path) -> Cmd {
    Cmd::new("useradd").args([
        "--uid",
        uid,
        "--gid",
        "0",
        "--no-create-home",
        "--home-dir",
        &home.display().to_string(),
        "--shell",
        "/bin/bash",
        "--comment",
        "Apache Airflow",
        "airflow",
    ])
}

/// `hangar install finalize` (final stage, as root): the `airflow` user (UID, group 0),
/// `AIRFLOW_HOME` with `dags/`, `logs/`, `plugins/`, group-writable `/etc/passwd` and home,
/// and `/entrypoint` pointing at the hangar binary.
pub fn finalize_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    paths: &Paths,
) -> Result<(), InstallError> {
    a.validate(&[
        "AIRFLOW_UID",
        "AIRFLOW_GID",
        "AIRFLOW_HOME",
        "AIRFLOW_USER_HOME_DIR",
    ])?;
    for w in a.warnings().iter().filter(|w| w.contains("AIRFLOW_GID")) {
        crate::exec::log(format_args!("warning: {w}"));
    }
    let uid: u32 = a
        .get("AIRFLOW_UID")
        .parse()
        .map_err(|_| InstallError::BadArg {
            name: "AIRFLOW_UID",
            problem: "not a number".into(),
            fix: "use e.g. 50000",
        })?;
    let home = a.home();
    let passwd = paths.at(Path::new("/etc/passwd"));
    let already = std::fs::read_to_string(&passwd)
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("airflow:"));
    if !already {
        run(
            exec,
            &useradd_cmd(a.get("AIRFLOW_UID"), &home),
            "creating the airflow user",
            "AIRFLOW_UID must be free in the base image",
        )?;
    }
    let io = |p: &Path, e| InstallError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let airflow_home = PathBuf::from(a.get("AIRFLOW_HOME"));
    let mut dirs = vec![home.clone(), airflow_home.clone()];
    dirs.extend(
        ["dags", "logs", "plugins"]
            .iter()
            .map(|d| airflow_home.join(d)),
    );
    for d in &dirs {
        let at = paths.at(d);
        std::fs::create_dir_all(&at).map_err(|e| io(&at, e))?;
        std::os::unix::fs::chown(&at, Some(uid), Some(0)).map_err(|e| io(&at, e))?;
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o775))
            .map_err(|e| io(&at, e))?;
    }
    if passwd.exists() {
        let mode = std::fs::metadata(&passwd)
            .map_err(|e| io(&passwd, e))?
            .mode()
            & 0o7777;
        let user = (mode >> 6) & 0o7;
        std::fs::set_permissions(
            &passwd,
            std::fs::Permissions::from_mode((mode & !0o070) | (user << 3)),
        )
        .map_err(|e| io(&passwd, e))?;
    }
    let entry = paths.at(Path::new("/entrypoint"));
    if std::fs::symlink_metadata(&entry).is_err() {
        std::os::unix::fs::symlink("/usr/local/bin/hangar", &entry).map_err(|e| io(&entry, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Recorder;
    use crate::steps::testing::paths;

    #[test]
    #[cfg_attr(
        not(feature = "full-tests"),
        ignore = "full tier: needs root to give the directories to the airflow UID"
    )]
    fn finalize_creates_user_dirs_and_entrypoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("etc/passwd"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let a = BuildArgs::from_pairs(&[("AIRFLOW_UID", "50001")]);
        let mut rec = Recorder::default();
        finalize_step(&mut rec, &a, &p).unwrap();
        assert_eq!(
            rec.commands[0].display(),
            "useradd --uid 50001 --gid 0 --no-create-home --home-dir /home/airflow --shell /bin/bash --comment 'Apache Airflow' airflow"
        );
        for d in [
            "opt/airflow/dags",
            "opt/airflow/logs",
            "opt/airflow/plugins",
            "home/airflow",
        ] {
            let m = std::fs::metadata(dir.path().join(d)).unwrap();
            assert_eq!(
                (m.uid(), m.gid(), m.mode() & 0o777),
                (50001, 0, 0o775),
                "{d}"
            );
        }
        assert_eq!(
            std::fs::metadata(dir.path().join("etc/passwd"))
                .unwrap()
                .mode()
                & 0o777,
            0o664
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("entrypoint")).unwrap(),
            PathBuf::from("/usr/local/bin/hangar")
        );
    }
}
