//! Makes `pip install --user` work in the image's venv.
//!
//! The venv lives at `~airflow/.local`, which is also where Python puts the airflow user's
//! "user site": a `--user` install lands in the venv's own site-packages. pip refuses `--user`
//! in a venv that hides the system site-packages, because then Python does not read the user
//! site either. Turning `include-system-site-packages` on after Airflow's install lets both
//! work (the venv's packages still come first on `sys.path`), so images extended the way
//! generations of Airflow images were (`pip install --user PKG` as the airflow user) keep
//! working.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A failure to read or rewrite the venv's `pyvenv.cfg`.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot switch on the user site in {}: {source}; the venv must have been made by `python3 -m venv`",
    path.display()
)]
pub struct UserSiteError {
    path: PathBuf,
    source: io::Error,
}

const KEY: &str = "include-system-site-packages";

/// `cfg` with `include-system-site-packages = true` (the line replaced, or added).
pub fn with_user_site(cfg: &str) -> String {
    let mut out = String::with_capacity(cfg.len() + 40);
    let mut found = false;
    for line in cfg.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        if key.eq_ignore_ascii_case(KEY) {
            found = true;
            out.push_str(KEY);
            out.push_str(" = true\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !found {
        out.push_str(KEY);
        out.push_str(" = true\n");
    }
    out
}

/// Rewrites `venv/pyvenv.cfg` (through a temp file and a rename) so the user site is read.
pub fn enable_user_site(venv: &Path) -> Result<(), UserSiteError> {
    let path = venv.join("pyvenv.cfg");
    let err = |source| UserSiteError {
        path: path.clone(),
        source,
    };
    let cfg = fs::read_to_string(&path).map_err(err)?;
    let new = with_user_site(&cfg);
    if new == cfg {
        return Ok(());
    }
    let tmp = venv.join(".pyvenv.cfg.tmp");
    fs::write(&tmp, new).map_err(err)?;
    fs::rename(&tmp, &path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_switched_on_and_the_rest_kept() {
        let cfg = "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n";
        assert_eq!(
            with_user_site(cfg),
            "home = /usr/bin\ninclude-system-site-packages = true\nversion = 3.11.2\n"
        );
        assert_eq!(
            with_user_site("home = /usr/bin\n"),
            "home = /usr/bin\ninclude-system-site-packages = true\n"
        );
    }

    #[test]
    fn the_venv_file_is_rewritten_and_a_missing_one_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\n",
        )
        .unwrap();
        enable_user_site(dir.path()).unwrap();
        let cfg = fs::read_to_string(dir.path().join("pyvenv.cfg")).unwrap();
        assert!(cfg.contains("include-system-site-packages = true"), "{cfg}");
        assert!(!dir.path().join(".pyvenv.cfg.tmp").exists());

        let err = enable_user_site(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nope/pyvenv.cfg") && err.contains("python3 -m venv"),
            "{err}"
        );
    }
}
