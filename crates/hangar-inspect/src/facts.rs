//! What the image says about itself: three POSIX shell scripts run inside it, and the parser of
//! the `hangar-verify:KEY=VALUE` lines they print. Only `sh` and coreutils-level tools are
//! assumed, so any Debian-based image (hangar-built or not) answers.

use std::collections::BTreeMap;

/// The prefix of every fact line; other output (warnings, Airflow's logging) is ignored.
pub const PREFIX: &str = "hangar-verify:";

/// The uid an arbitrary-user run takes (any uid absent from `/etc/passwd` works).
pub const ARBITRARY_USER: &str = "12345:0";

/// Shared helper of the scripts: `p KEY VALUE` prints one fact.
const P: &str = "p() { printf 'hangar-verify:%s=%s\\n' \"$1\" \"$2\"; }\n";

/// Run as the image's own user with the entrypoint replaced; `$1` is the entrypoint's program.
const DEFAULT_USER: &str = r#"
p uid "$(id -u)"
p gid "$(id -g)"
p home "${HOME:-}"
if [ -n "${1:-}" ] && [ -f "$1" ] && [ -x "$1" ]; then p entrypoint_executable yes; else p entrypoint_executable no; fi
if [ -n "${AIRFLOW_HOME:-}" ]; then
  for d in "$AIRFLOW_HOME" "$AIRFLOW_HOME/dags" "$AIRFLOW_HOME/logs"; do
    p dir "$(stat -c '%g %a' "$d" 2>/dev/null || echo missing) $d"
  done
fi
out=$(airflow version 2>&1); p airflow_version_status "$?"
p airflow_version "$(printf '%s\n' "$out" | tail -n 1)"
out=$(pip check 2>&1); p pip_check_status "$?"
printf '%s\n' "$out" | tail -n 20 | sed 's/^/hangar-verify:pip_check=/'
for c in gcc cc g++ c++ clang make; do
  if command -v "$c" >/dev/null 2>&1; then p compiler "$(command -v "$c")"; fi
done
dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' 2>/dev/null | while read -r st pkg; do
  case "$st" in ii*) ;; *) continue ;; esac
  case "$pkg" in
    build-essential|gcc|g++|cpp|clang|make|gcc-[0-9]|gcc-[0-9][0-9]|g++-[0-9]|g++-[0-9][0-9]|cpp-[0-9]|cpp-[0-9][0-9]|clang-[0-9]|clang-[0-9][0-9]) p build_package "$pkg" ;;
  esac
done
if [ "$(id -u)" != 0 ] && [ -d "${HOME:-/nonexistent}" ]; then
  find "$HOME" -xdev -user 0 2>/dev/null | head -n 20 | sed 's/^/hangar-verify:home_root_owned=/'
fi
p done yes
"#;

/// Run through the image's entrypoint (as `bash -c`) as [`ARBITRARY_USER`].
const ARBITRARY: &str = r#"
p uid "$(id -u)"
p gid "$(id -g)"
t="${AIRFLOW_HOME:-/opt/airflow}/logs/.hangar-verify-$$"
if touch "$t" 2>/dev/null; then rm -f "$t"; p logs_writable yes; else p logs_writable no; fi
out=$(airflow version 2>&1); p airflow_version_status "$?"
p airflow_version "$(printf '%s\n' "$out" | tail -n 1)"
p done yes
"#;

/// Run as root: every file under `$1` (the image's `/`) whose name is a credential file's
/// (pip, twine, netrc, git, Docker, Kerberos keytabs).
const SCAN: &str = r#"
find "$1" -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -type f \( \
  -name .netrc -o -name _netrc -o -name .pypirc -o -name .piprc -o -name pip.conf -o -name pip.ini \
  -o -name .git-credentials -o -name '*.keytab' -o -path '*/.docker/config.json' \) -print 2>/dev/null \
  | head -n 50 | sed 's/^/hangar-verify:credential_file=/'
p done yes
"#;

/// The script run as the image's user.
#[must_use]
pub fn default_user_script() -> String {
    format!("{P}{DEFAULT_USER}")
}

/// The script run through the entrypoint as an arbitrary uid.
#[must_use]
pub fn arbitrary_user_script() -> String {
    format!("{P}{ARBITRARY}")
}

/// The credential-file scan, run as root.
#[must_use]
pub fn scan_script() -> String {
    format!("{P}{SCAN}")
}

/// The facts one script printed: every value of every key, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts(BTreeMap<String, Vec<String>>);

impl Facts {
    /// Reads the fact lines of `stdout`.
    #[must_use]
    pub fn parse(stdout: &str) -> Facts {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in stdout.lines() {
            if let Some((k, v)) = line.strip_prefix(PREFIX).and_then(|f| f.split_once('=')) {
                map.entry(k.to_owned()).or_default().push(v.to_owned());
            }
        }
        Facts(map)
    }

    /// The first value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every value of `key`.
    #[must_use]
    pub fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map_or(&[], Vec::as_slice)
    }

    /// The script ran to its end.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.get("done") == Some("yes")
    }

    /// `key` is `yes`.
    #[must_use]
    pub fn yes(&self, key: &str) -> bool {
        self.get(key) == Some("yes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn fact_lines_are_read_and_other_output_ignored() {
        let f = Facts::parse(
            "WARNING: something\nhangar-verify:uid=50000\nhangar-verify:pip_check=a b\n\
             hangar-verify:pip_check=c=d\nhangar-verify:done=yes\n",
        );
        assert_eq!(f.get("uid"), Some("50000"));
        assert_eq!(f.all("pip_check"), ["a b", "c=d"]);
        assert!(f.all("compiler").is_empty());
        assert!(f.complete());
        assert!(!Facts::parse("hangar-verify:uid=0\n").complete());
    }

    /// The scripts are valid POSIX shell and print their facts with this machine's tools
    /// (a host is not an Airflow image: `airflow` is missing, which is itself a fact).
    #[test]
    fn the_scripts_run_under_sh() {
        let home = tempfile_dir();
        std::fs::create_dir_all(home.join("etc/xdg/pip")).unwrap();
        std::fs::write(home.join("etc/xdg/pip/pip.conf"), "[global]\n").unwrap();
        std::fs::write(home.join(".pypirc"), "[distutils]\n").unwrap();
        std::fs::write(home.join("pip.conf.example"), "not a config").unwrap();
        let root = home.display().to_string();
        for (script, args) in [
            (default_user_script(), vec!["/bin/sh"]),
            (arbitrary_user_script(), vec![]),
            (scan_script(), vec![root.as_str()]),
        ] {
            let out = Command::new("sh")
                .arg("-c")
                .arg(&script)
                .arg("sh")
                .args(&args)
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", &home)
                .env("AIRFLOW_HOME", &home)
                .output()
                .unwrap();
            let f = Facts::parse(&String::from_utf8_lossy(&out.stdout));
            assert!(
                f.complete(),
                "{script}\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if script == scan_script() {
                let mut found = f.all("credential_file").to_vec();
                found.sort();
                assert_eq!(
                    found,
                    [
                        format!("{root}/.pypirc"),
                        format!("{root}/etc/xdg/pip/pip.conf")
                    ]
                );
            } else if !args.is_empty() {
                assert!(f.yes("entrypoint_executable"));
                assert_ne!(f.get("airflow_version_status"), Some("0"));
                assert!(f.get("uid").is_some_and(|u| u.parse::<u32>().is_ok()));
                // AIRFLOW_HOME and its missing dags and logs folders.
                assert_eq!(f.all("dir").len(), 3, "{f:?}");
                assert!(f.all("dir")[1].starts_with("missing "), "{f:?}");
            }
        }
        std::fs::remove_dir_all(&home).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hangar-verify-facts-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
