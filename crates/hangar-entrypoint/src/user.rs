//! User and group duties: the GID-0 rule, the passwd entry for an arbitrary UID, `HOME`, the
//! root `PYTHONPATH`, `umask`, `PIP_USER` and the `LD_PRELOAD` workaround.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::os::System;

/// The passwd file the entrypoint edits. `HANGAR_PASSWD_FILE` overrides it (test hook).
pub const DEFAULT_PASSWD_FILE: &str = "/etc/passwd";
/// `AIRFLOW_USER_HOME_DIR` when unset.
pub const DEFAULT_AIRFLOW_HOME_DIR: &str = "/home/airflow";
/// The UID of the image's `airflow` user.
pub const AIRFLOW_UID: u32 = 50000;

/// What the GID check decided.
#[derive(Debug, PartialEq, Eq)]
pub enum GidCheck {
    /// GID 0.
    Ok,
    /// UID 50000 with another GID: allowed, with a warning.
    Warn,
}

/// Upstream's rule: GID 0 passes; UID 50000 with another GID warns; anything else fails.
pub fn check_uid_gid(uid: u32, gid: u32) -> Result<GidCheck, EntrypointError> {
    if gid == 0 {
        Ok(GidCheck::Ok)
    } else if uid == AIRFLOW_UID {
        Ok(GidCheck::Warn)
    } else {
        Err(EntrypointError::WrongGid { uid, gid })
    }
}

/// What happened to the passwd entry.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswdOutcome {
    /// The UID already has an entry: nothing to do.
    Present,
    /// This line was appended.
    Appended(String),
    /// No entry and the file cannot be written; the warning to print.
    NotWritable(String),
}

/// The passwd file in use (`HANGAR_PASSWD_FILE` or `/etc/passwd`).
pub fn passwd_file(env: &ChildEnv) -> PathBuf {
    PathBuf::from(
        env.non_empty("HANGAR_PASSWD_FILE")
            .unwrap_or(DEFAULT_PASSWD_FILE),
    )
}

/// `AIRFLOW_USER_HOME_DIR` or its default.
pub fn airflow_home_dir(env: &ChildEnv) -> PathBuf {
    PathBuf::from(
        env.non_empty("AIRFLOW_USER_HOME_DIR")
            .unwrap_or(DEFAULT_AIRFLOW_HOME_DIR),
    )
}

/// True when some line of a passwd file has `uid` as its third field.
pub fn passwd_has_uid(content: &[u8], uid: u32) -> bool {
    let uid = uid.to_string();
    content.split(|&b| b == b'\n').any(|line| {
        line.split(|&b| b == b':')
            .nth(2)
            .is_some_and(|f| f == uid.as_bytes())
    })
}

/// The passwd line for an arbitrary UID (group 0, no login shell), without the newline.
pub fn passwd_line(user_name: &str, uid: u32, home: &Path) -> String {
    format!(
        "{user_name}:x:{uid}:0:{user_name} user:{}:/sbin/nologin",
        home.display()
    )
}

/// Gives `uid` a passwd entry when it has none (OpenShift-style arbitrary UIDs) and points
/// `HOME` at the Airflow home in that case, as upstream does.
///
/// The line is appended with one `write(2)` on an `O_APPEND` descriptor rather than by
/// writing a temporary copy and renaming it: with an arbitrary UID only the file itself is
/// writable (the image makes `/etc/passwd` group-writable, never `/etc`), so a rename is not
/// possible, and an `O_APPEND` write of one short line cannot interleave with another
/// appender nor truncate what is there.
pub fn ensure_passwd_entry(
    sys: &mut dyn System,
    env: &mut ChildEnv,
) -> Result<PasswdOutcome, EntrypointError> {
    let uid = sys.uid();
    let file = passwd_file(env);
    let content = match sys.read_file(&file) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => return Err(EntrypointError::Read { path: file, source }),
    };
    if passwd_has_uid(&content, uid) {
        return Ok(PasswdOutcome::Present);
    }
    let home = airflow_home_dir(env);
    env.set("HOME", home.as_os_str());
    let user_name = env.non_empty("USER_NAME").unwrap_or("default").to_owned();
    let line = passwd_line(&user_name, uid, &home);
    if !sys.is_writable(&file) {
        return Ok(PasswdOutcome::NotWritable(format!(
            "UID {uid} has no entry in {} and the file is not writable, so tools that look up \
             the user name (pip, getpass, ssh) may fail. Make it group-writable for GID 0 in the \
             image (`chmod g=u {}`), or run with a UID that has an entry.",
            file.display(),
            file.display()
        )));
    }
    let mut data = Vec::with_capacity(line.len() + 2);
    if content.last().is_some_and(|&b| b != b'\n') {
        data.push(b'\n');
    }
    data.extend_from_slice(line.as_bytes());
    data.push(b'\n');
    match sys.append(&file, &data) {
        Ok(()) => Ok(PasswdOutcome::Appended(line)),
        Err(e) => Ok(PasswdOutcome::NotWritable(format!(
            "cannot add an entry for UID {uid} to {}: {e}. Make it writable for GID 0 in the \
             image (`chmod g=u {}`).",
            file.display(),
            file.display()
        ))),
    }
}

/// For root: `<home>/.local/lib/pythonX.Y/site-packages`, found by listing the directory (no
/// Python start), prepended to the user's `PYTHONPATH`. `None` when no such directory exists.
pub fn root_pythonpath(sys: &dyn System, home: &Path, current: Option<&str>) -> Option<OsString> {
    let lib = home.join(".local/lib");
    let mut best: Option<(u32, u32, String)> = None;
    for name in sys.list_dir(&lib).ok()? {
        let Some(name) = name.to_str() else { continue };
        let Some((major, minor)) = name
            .strip_prefix("python")
            .and_then(|v| v.split_once('.'))
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        else {
            continue;
        };
        if major != 3 || !sys.exists(&lib.join(name).join("site-packages")) {
            continue;
        }
        if best.as_ref().is_none_or(|(_, m, _)| minor > *m) {
            best = Some((major, minor, name.to_owned()));
        }
    }
    let (_, _, dir) = best?;
    let site = lib.join(dir).join("site-packages");
    let mut value = site.into_os_string();
    if let Some(cur) = current.filter(|c| !c.is_empty()) {
        value.push(":");
        value.push(cur);
    }
    Some(value)
}

/// The libstdc++ preload upstream sets against "cannot allocate memory in static TLS block":
/// the new `LD_PRELOAD`, or `None` to leave it alone (file missing, or already listed).
pub fn ld_preload(sys: &dyn System, current: Option<&str>) -> Option<String> {
    let lib = format!(
        "/usr/lib/{}-linux-gnu/libstdc++.so.6",
        std::env::consts::ARCH
    );
    if !sys.exists(Path::new(&lib)) {
        return None;
    }
    match current.filter(|c| !c.trim().is_empty()) {
        None => Some(lib),
        Some(cur) if cur.split([':', ' ']).any(|e| e == lib) => None,
        Some(cur) => Some(format!("{cur}:{lib}")),
    }
}

/// Runs every user/group duty in upstream's order and edits `env` for the commands to come.
/// Warnings go to stderr.
pub fn prepare(sys: &mut dyn System, env: &mut ChildEnv) -> Result<(), EntrypointError> {
    if let Some(v) = ld_preload(sys, env.get("LD_PRELOAD")) {
        env.set("LD_PRELOAD", v);
    }
    env.remove("PIP_USER");
    let (uid, gid) = (sys.uid(), sys.gid());
    if check_uid_gid(uid, gid)? == GidCheck::Warn {
        crate::warn(&format!(
            "WARNING! You should run the image with GID (group ID) set to 0, even if you use the \
             'airflow' user (UID={AIRFLOW_UID}); it runs with GID {gid}. Files it creates may not \
             be writable by other containers. See \
             https://airflow.apache.org/docs/docker-stack/entrypoint.html"
        ));
    }
    sys.set_umask(0o002);
    match ensure_passwd_entry(sys, env)? {
        PasswdOutcome::Present | PasswdOutcome::Appended(_) => {}
        PasswdOutcome::NotWritable(w) => crate::warn(&format!("WARNING! {w}")),
    }
    if uid == 0 {
        let home = airflow_home_dir(env);
        if let Some(pp) = root_pythonpath(sys, &home, env.get("PYTHONPATH")) {
            env.set("PYTHONPATH", pp);
        }
        crate::warn(
            "The container is run as root user. For security, consider using a regular user account.",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSystem;

    #[test]
    fn gid_rules_match_upstream() {
        assert_eq!(check_uid_gid(12345, 0).unwrap(), GidCheck::Ok);
        assert_eq!(check_uid_gid(0, 0).unwrap(), GidCheck::Ok);
        assert_eq!(check_uid_gid(50000, 50000).unwrap(), GidCheck::Warn);
        let err = check_uid_gid(12345, 1000).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("--user 12345:0"), "{err}");
    }

    #[test]
    fn arbitrary_uid_appends_exactly_one_line() {
        let mut sys = FakeSystem::new(12345, 0);
        sys.files.insert(
            "/etc/passwd".into(),
            b"root:x:0:0:root:/root:/bin/bash\nairflow:x:50000:0::/home/airflow:/bin/bash\n"
                .to_vec(),
        );
        sys.writable.insert("/etc/passwd".into());
        let mut env = ChildEnv::from_pairs([("HOME", "/")]);
        let out = ensure_passwd_entry(&mut sys, &mut env).unwrap();
        let line = "default:x:12345:0:default user:/home/airflow:/sbin/nologin";
        assert_eq!(out, PasswdOutcome::Appended(line.into()));
        assert_eq!(
            sys.appends,
            vec![("/etc/passwd".into(), format!("{line}\n").into_bytes())]
        );
        assert_eq!(env.get("HOME"), Some("/home/airflow"));
    }

    #[test]
    fn user_name_and_home_come_from_the_environment() {
        let mut sys = FakeSystem::new(4242, 0);
        sys.files.insert(
            "/tmp/pw".into(),
            b"root:x:0:0:root:/root:/bin/bash".to_vec(),
        );
        sys.writable.insert("/tmp/pw".into());
        let mut env = ChildEnv::from_pairs([
            ("HANGAR_PASSWD_FILE", "/tmp/pw"),
            ("USER_NAME", "ops"),
            ("AIRFLOW_USER_HOME_DIR", "/srv/af"),
        ]);
        ensure_passwd_entry(&mut sys, &mut env).unwrap();
        // The missing final newline of the file is added before our line.
        assert_eq!(
            sys.appends,
            vec![(
                "/tmp/pw".into(),
                b"\nops:x:4242:0:ops user:/srv/af:/sbin/nologin\n".to_vec()
            )]
        );
        assert_eq!(env.get("HOME"), Some("/srv/af"));
    }

    #[test]
    fn existing_entry_is_left_alone() {
        let mut sys = FakeSystem::new(50000, 0);
        sys.files.insert(
            "/etc/passwd".into(),
            b"airflow:x:50000:0::/home/airflow:/bin/bash\n".to_vec(),
        );
        sys.writable.insert("/etc/passwd".into());
        let mut env = ChildEnv::from_pairs([("HOME", "/home/airflow")]);
        assert_eq!(
            ensure_passwd_entry(&mut sys, &mut env).unwrap(),
            PasswdOutcome::Present
        );
        assert!(sys.appends.is_empty());
        // A UID that only appears as a GID elsewhere is not "present".
        assert!(!passwd_has_uid(b"x:x:1:12345::/:/bin/sh\n", 12345));
    }

    #[test]
    fn unwritable_passwd_warns_with_the_fix() {
        let mut sys = FakeSystem::new(12345, 0);
        sys.files.insert(
            "/etc/passwd".into(),
            b"root:x:0:0::/root:/bin/sh\n".to_vec(),
        );
        let mut env = ChildEnv::default();
        let PasswdOutcome::NotWritable(w) = ensure_passwd_entry(&mut sys, &mut env).unwrap() else {
            panic!("expected a warning")
        };
        assert!(w.contains("chmod g=u /etc/passwd"), "{w}");
        assert!(sys.appends.is_empty());
        assert_eq!(env.get("HOME"), Some("/home/airflow"));
    }

    #[test]
    fn root_pythonpath_prepends_the_newest_site_packages() {
        let mut sys = FakeSystem::new(0, 0);
        sys.dirs.insert(
            "/home/airflow/.local/lib".into(),
            vec![
                "python3.9".into(),
                "python3.11".into(),
                "python3.12".into(),
                "other".into(),
            ],
        );
        sys.existing
            .insert("/home/airflow/.local/lib/python3.11/site-packages".into());
        sys.existing
            .insert("/home/airflow/.local/lib/python3.9/site-packages".into());
        let home = Path::new("/home/airflow");
        assert_eq!(
            root_pythonpath(&sys, home, Some("/custom/mount")).unwrap(),
            "/home/airflow/.local/lib/python3.11/site-packages:/custom/mount"
        );
        assert_eq!(
            root_pythonpath(&sys, home, None).unwrap(),
            "/home/airflow/.local/lib/python3.11/site-packages"
        );
        assert_eq!(
            root_pythonpath(&sys, Path::new("/nowhere"), Some("/x")),
            None
        );
    }

    #[test]
    fn ld_preload_only_when_the_library_exists_and_is_not_listed() {
        let lib = format!(
            "/usr/lib/{}-linux-gnu/libstdc++.so.6",
            std::env::consts::ARCH
        );
        let mut sys = FakeSystem::new(0, 0);
        assert_eq!(ld_preload(&sys, None), None);
        sys.existing.insert(lib.clone().into());
        assert_eq!(ld_preload(&sys, None), Some(lib.clone()));
        assert_eq!(ld_preload(&sys, Some(&lib)), None);
        assert_eq!(
            ld_preload(&sys, Some("/x.so")),
            Some(format!("/x.so:{lib}"))
        );
    }

    #[test]
    fn prepare_sets_umask_and_removes_pip_user() {
        let mut sys = FakeSystem::new(50000, 0);
        sys.files.insert(
            "/etc/passwd".into(),
            b"airflow:x:50000:0::/home/airflow:/bin/bash\n".to_vec(),
        );
        let mut env = ChildEnv::from_pairs([("PIP_USER", "true"), ("PYTHONPATH", "/p")]);
        prepare(&mut sys, &mut env).unwrap();
        assert_eq!(sys.umask, Some(0o002));
        assert_eq!(env.get("PIP_USER"), None);
        assert_eq!(
            env.get("PYTHONPATH"),
            Some("/p"),
            "non-root keeps PYTHONPATH untouched"
        );
        let mut bad = FakeSystem::new(1000, 1000);
        assert_eq!(prepare(&mut bad, &mut env).unwrap_err().exit_code(), 1);
    }
}
