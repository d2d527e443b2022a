//! uv command lines (pure functions) and the translation of pip's settings into uv's
//! environment, so that a pip.conf, a netrc and a CA bundle mean the same to both.

use std::path::{Path, PathBuf};

use crate::exec::Cmd;
use crate::pip::{Dialect, InstallOpts, Secrets, with_install_opts};

/// The uv release the build stage installs from the package index.
pub const UV_VERSION: &str = "0.11.29";

/// Where uv is installed inside the cache folder (`pip install --target`), so that the
/// pinned uv is downloaded once per cache and never lands in a layer. The path names the
/// architecture too: engines that do not expand build args in a cache mount's id share one
/// cache between architectures.
pub fn uv_home(cache: &Path) -> PathBuf {
    cache.join(format!("uv-{UV_VERSION}-{}", std::env::consts::ARCH))
}

/// The uv executable under [`uv_home`].
pub fn uv_bin(cache: &Path) -> PathBuf {
    uv_home(cache).join("bin/uv")
}

/// `VENV/bin/python -m pip install --upgrade --no-deps --target DIR uv==VERSION`: pip, with
/// the step's pip settings and secrets, fetches uv into a folder outside the venv; from
/// `offline` alone (`--no-index --find-links`) when the context files carry uv's wheel.
pub fn bootstrap_cmd(venv: &Path, cache: &Path, offline: Option<&Path>) -> Cmd {
    let mut c = Cmd::new(&venv.join("bin/python").display().to_string())
        .args(["-m", "pip", "install", "--upgrade", "--no-deps", "--target"])
        .arg(uv_home(cache).display().to_string());
    if let Some(dir) = offline {
        c = c
            .args(["--no-index", "--find-links"])
            .arg(dir.display().to_string());
    }
    c.arg(format!("uv=={UV_VERSION}"))
}

/// True for the wheel of the pinned uv (`uv-VERSION-…whl`): the installer's own, which the
/// bootstrap takes from the context files and which is not installed into the venv.
#[must_use]
pub fn is_pinned_uv_wheel(file_name: &str) -> bool {
    file_name
        .strip_prefix(&format!("uv-{UV_VERSION}-"))
        .is_some_and(|rest| rest.ends_with(".whl"))
}

fn uv_pip(uv: &Path, verb: &str, venv: &Path) -> Cmd {
    Cmd::new(&uv.display().to_string())
        .args(["pip", verb, "--python"])
        .arg(venv.join("bin/python").display().to_string())
}

/// `uv pip install --python VENV/bin/python [opts] REQS…`.
///
/// `upgrade_only_if_needed` adds nothing: uv keeps installed versions that satisfy the
/// requirements unless told to upgrade, which is pip's `--upgrade-strategy only-if-needed`
/// for the dependencies.
pub fn install_cmd(uv: &Path, venv: &Path, reqs: &[String], o: &InstallOpts<'_>) -> Cmd {
    with_install_opts(uv_pip(uv, "install", venv), Dialect::Uv, reqs, o)
}

/// `uv pip check --python VENV/bin/python`.
pub fn check_cmd(uv: &Path, venv: &Path) -> Cmd {
    uv_pip(uv, "check", venv)
}

/// `uv pip freeze --python VENV/bin/python --exclude-editable`.
pub fn freeze_cmd(uv: &Path, venv: &Path) -> Cmd {
    uv_pip(uv, "freeze", venv).arg("--exclude-editable")
}

/// The settings of a pip.conf that change where and how packages are fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipConf {
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub trusted_hosts: Vec<String>,
    pub find_links: Vec<String>,
    pub cert: Option<String>,
    pub timeout: Option<String>,
    pub no_index: bool,
}

impl PipConf {
    /// Reads the `[global]` and `[install]` sections (`[install]` wins, as with pip). Keys may
    /// use `-` or `_`; multi-valued keys take whitespace-separated values and indented
    /// continuation lines.
    pub fn parse(text: &str) -> Self {
        let mut global = Vec::new();
        let mut install = Vec::new();
        let mut section = String::new();
        let mut last: Option<(bool, usize)> = None;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                if let Some((is_install, i)) = last {
                    let list: &mut Vec<(String, String)> = if is_install {
                        &mut install
                    } else {
                        &mut global
                    };
                    list[i].1.push(' ');
                    list[i].1.push_str(line);
                }
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_ascii_lowercase();
                last = None;
                continue;
            }
            let Some((key, value)) = line.split_once(['=', ':']) else {
                continue;
            };
            let entry = (
                key.trim().to_ascii_lowercase().replace('_', "-"),
                value.trim().to_owned(),
            );
            match section.as_str() {
                "global" => {
                    global.push(entry);
                    last = Some((false, global.len() - 1));
                }
                "install" => {
                    install.push(entry);
                    last = Some((true, install.len() - 1));
                }
                _ => last = None,
            }
        }
        let mut conf = Self::default();
        for (key, value) in global.into_iter().chain(install) {
            let words = || value.split_whitespace().map(str::to_owned).collect();
            match key.as_str() {
                "index-url" | "i" => conf.index_url = Some(value),
                "extra-index-url" => conf.extra_index_urls = words(),
                "trusted-host" => conf.trusted_hosts = words(),
                "find-links" | "f" => conf.find_links = words(),
                "cert" => conf.cert = Some(value),
                "timeout" => conf.timeout = Some(value),
                "no-index" => {
                    conf.no_index = matches!(
                        value.to_ascii_lowercase().as_str(),
                        "1" | "true" | "yes" | "on"
                    );
                }
                _ => {}
            }
        }
        conf
    }

    /// uv's environment for these settings. `ca_from_secret` is true when a CA bundle
    /// secret already set `SSL_CERT_FILE`; it wins over `cert`, as `PIP_CERT` wins for pip.
    pub fn uv_env(&self, ca_from_secret: bool) -> Vec<(String, String)> {
        let mut env = Vec::new();
        let mut set = |k: &str, v: String| env.push((k.to_owned(), v));
        if let Some(url) = &self.index_url {
            set("UV_INDEX_URL", url.clone());
        }
        if !self.extra_index_urls.is_empty() {
            set("UV_EXTRA_INDEX_URL", self.extra_index_urls.join(" "));
            // pip picks the best version across all indexes; uv stops at the first index
            // that has the package unless told otherwise.
            set("UV_INDEX_STRATEGY", "unsafe-best-match".to_owned());
        }
        if !self.trusted_hosts.is_empty() {
            set("UV_INSECURE_HOST", self.trusted_hosts.join(" "));
        }
        if !self.find_links.is_empty() {
            set("UV_FIND_LINKS", self.find_links.join(","));
        }
        if self.no_index {
            set("UV_NO_INDEX", "1".to_owned());
        }
        if let Some(timeout) = &self.timeout {
            set("UV_HTTP_TIMEOUT", timeout.clone());
        }
        if let (Some(cert), false) = (&self.cert, ca_from_secret) {
            set("SSL_CERT_FILE", cert.clone());
        }
        env
    }
}

/// Fixed uv settings of every build step: no progress bars, files copied out of the cache
/// mount (hard links cannot cross into the layer), bytecode compiled as pip does, no
/// interpreter downloads.
pub fn base_env(cache: &Path) -> Vec<(String, String)> {
    [
        ("UV_CACHE_DIR", cache.join("uv").display().to_string()),
        ("UV_NO_PROGRESS", "1".to_owned()),
        ("UV_LINK_MODE", "copy".to_owned()),
        ("UV_COMPILE_BYTECODE", "1".to_owned()),
        ("UV_PYTHON_DOWNLOADS", "never".to_owned()),
        ("UV_HTTP_TIMEOUT", "300".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The environment uv runs with: [`base_env`], then the pip.conf translated (`pip_conf_text`
/// is its content, when there is one). The CA bundle (`SSL_CERT_FILE`) and netrc (`NETRC`)
/// of [`Secrets::env`] are read by uv as they are.
pub fn env(secrets: &Secrets, pip_conf_text: Option<&str>, cache: &Path) -> Vec<(String, String)> {
    let mut env = base_env(cache);
    if let Some(text) = pip_conf_text {
        let conf = PipConf::parse(text);
        // A timeout from pip.conf replaces the default one.
        if conf.timeout.is_some() {
            env.retain(|(k, _)| k != "UV_HTTP_TIMEOUT");
        }
        env.extend(conf.uv_env(secrets.ca_bundle.is_some()));
    }
    // The index URL secrets beat the pip.conf's, as they do for pip.
    let mut set = |k: &str, v: &str| {
        env.retain(|(key, _)| key != k);
        env.push((k.to_owned(), v.to_owned()));
    };
    if let Some(url) = &secrets.index_url {
        set("UV_INDEX_URL", url);
    }
    if let Some(urls) = &secrets.extra_index_urls {
        set("UV_EXTRA_INDEX_URL", urls);
        set("UV_INDEX_STRATEGY", "unsafe-best-match");
    }
    env
}

#[cfg(test)]
mod tests {
    use std::env::consts::ARCH;

    use super::*;

    const V: &str = "/home/airflow/.local";
    const CACHE: &str = "/var/cache/hangar";

    fn uv() -> PathBuf {
        uv_bin(Path::new(CACHE))
    }

    #[test]
    fn offline_bootstrap_reads_only_the_context_folder() {
        let c = bootstrap_cmd(
            Path::new(V),
            Path::new(CACHE),
            Some(Path::new("/docker-context-files")),
        );
        assert!(
            c.display().ends_with(&format!(
                " --no-index --find-links /docker-context-files uv=={UV_VERSION}"
            )),
            "{}",
            c.display()
        );
        assert!(is_pinned_uv_wheel(&format!(
            "uv-{UV_VERSION}-py3-none-manylinux_2_17_x86_64.whl"
        )));
        assert!(!is_pinned_uv_wheel("uv-0.1.0-py3-none-any.whl"));
        assert!(!is_pinned_uv_wheel(&format!("uv-{UV_VERSION}.tar.gz")));
    }

    #[test]
    fn bootstrap_installs_pinned_uv_outside_the_venv() {
        let c = bootstrap_cmd(Path::new(V), Path::new(CACHE), None);
        assert_eq!(
            c.display(),
            format!(
                "/home/airflow/.local/bin/python -m pip install --upgrade --no-deps --target /var/cache/hangar/uv-{UV_VERSION}-{ARCH} uv=={UV_VERSION}"
            )
        );
        assert_eq!(
            uv(),
            PathBuf::from(format!("/var/cache/hangar/uv-{UV_VERSION}-{ARCH}/bin/uv"))
        );
    }

    #[test]
    fn install_check_and_freeze_argv() {
        let u = uv();
        let c = install_cmd(
            &u,
            Path::new(V),
            &["apache-airflow[postgres]==3.3.2".to_owned()],
            &InstallOpts {
                extra_flags: vec!["--no-binary".into(), "lxml".into()],
                constraints: Some(Path::new("/home/airflow/constraints.txt")),
                ..Default::default()
            },
        );
        assert_eq!(c.program, u.display().to_string());
        assert_eq!(
            c.args,
            [
                "pip",
                "install",
                "--python",
                "/home/airflow/.local/bin/python",
                "--constraint",
                "/home/airflow/constraints.txt",
                "--no-binary",
                "lxml",
                "apache-airflow[postgres]==3.3.2"
            ]
        );
        let c = install_cmd(
            &u,
            Path::new(V),
            &["/d/x.whl".to_owned()],
            &InstallOpts {
                find_links: Some(Path::new("/d")),
                no_deps: true,
                upgrade_only_if_needed: true,
                ..Default::default()
            },
        );
        assert_eq!(
            &c.args[4..],
            ["--no-index", "--find-links", "/d", "--no-deps", "/d/x.whl"]
        );
        assert_eq!(
            check_cmd(&u, Path::new(V)).args,
            [
                "pip",
                "check",
                "--python",
                "/home/airflow/.local/bin/python"
            ]
        );
        assert_eq!(
            freeze_cmd(&u, Path::new(V)).args,
            [
                "pip",
                "freeze",
                "--python",
                "/home/airflow/.local/bin/python",
                "--exclude-editable"
            ]
        );
    }

    #[test]
    fn pip_conf_settings_map_to_uv_env() {
        let conf = PipConf::parse(
            "# private mirror\n[global]\nindex-url = https://u:p@pypi.corp/simple\ntimeout=60\n\
             extra-index-url =\n    https://a.corp/simple\n    https://b.corp/simple\n\
             trusted_host: a.corp b.corp\ncert = /etc/corp.pem\n[install]\nfind-links = /wheels\n\
             [freeze]\nindex-url = https://ignored\n",
        );
        assert_eq!(
            conf,
            PipConf {
                index_url: Some("https://u:p@pypi.corp/simple".into()),
                extra_index_urls: vec![
                    "https://a.corp/simple".into(),
                    "https://b.corp/simple".into()
                ],
                trusted_hosts: vec!["a.corp".into(), "b.corp".into()],
                find_links: vec!["/wheels".into()],
                cert: Some("/etc/corp.pem".into()),
                timeout: Some("60".into()),
                no_index: false,
            }
        );
        let env = conf.uv_env(false);
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("UV_INDEX_URL"), Some("https://u:p@pypi.corp/simple"));
        assert_eq!(
            get("UV_EXTRA_INDEX_URL"),
            Some("https://a.corp/simple https://b.corp/simple")
        );
        assert_eq!(get("UV_INDEX_STRATEGY"), Some("unsafe-best-match"));
        assert_eq!(get("UV_INSECURE_HOST"), Some("a.corp b.corp"));
        assert_eq!(get("UV_FIND_LINKS"), Some("/wheels"));
        assert_eq!(get("UV_HTTP_TIMEOUT"), Some("60"));
        assert_eq!(get("SSL_CERT_FILE"), Some("/etc/corp.pem"));
        assert_eq!(get("UV_NO_INDEX"), None);
        // A CA bundle secret wins over pip.conf's cert, as PIP_CERT does for pip.
        assert!(!conf.uv_env(true).iter().any(|(k, _)| k == "SSL_CERT_FILE"));
    }

    #[test]
    fn install_section_wins_and_no_index_is_read() {
        let conf = PipConf::parse(
            "[global]\nindex-url=https://g/simple\n[install]\nindex-url=https://i/simple\nno-index=true\n",
        );
        assert_eq!(conf.index_url.as_deref(), Some("https://i/simple"));
        assert!(
            conf.uv_env(false)
                .contains(&("UV_NO_INDEX".into(), "1".into()))
        );
        assert_eq!(PipConf::parse("[global]\nverbose = 2\n").uv_env(false), []);
    }

    #[test]
    fn step_env_keeps_one_timeout_and_the_cache() {
        let secrets = Secrets {
            ca_bundle: Some("/run/secrets/hangar-ca".into()),
            pip_conf: Some("/run/secrets/pip-conf".into()),
            netrc: None,
            index_url: None,
            extra_index_urls: None,
        };
        let env = env(
            &secrets,
            Some("[global]\ntimeout = 10\ncert = /x.pem\n"),
            Path::new(CACHE),
        );
        let timeouts: Vec<_> = env.iter().filter(|(k, _)| k == "UV_HTTP_TIMEOUT").collect();
        assert_eq!(timeouts, [&("UV_HTTP_TIMEOUT".to_owned(), "10".to_owned())]);
        assert!(env.contains(&("UV_CACHE_DIR".into(), "/var/cache/hangar/uv".into())));
        assert!(env.contains(&("UV_LINK_MODE".into(), "copy".into())));
        assert!(!env.iter().any(|(k, _)| k == "SSL_CERT_FILE"));
        let plain = super::env(&secrets, None, Path::new(CACHE));
        assert_eq!(plain, base_env(Path::new(CACHE)));
    }

    #[test]
    fn index_url_secrets_beat_the_pip_conf() {
        let secrets = Secrets {
            ca_bundle: None,
            pip_conf: None,
            netrc: None,
            index_url: Some("https://u:t@corp/simple".into()),
            extra_index_urls: Some("https://x/simple".into()),
        };
        let env = env(
            &secrets,
            Some("[global]\nindex-url = https://conf/simple\n"),
            Path::new(CACHE),
        );
        let get = |k: &str| -> Vec<&str> {
            env.iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("UV_INDEX_URL"), ["https://u:t@corp/simple"]);
        assert_eq!(get("UV_EXTRA_INDEX_URL"), ["https://x/simple"]);
        assert_eq!(get("UV_INDEX_STRATEGY"), ["unsafe-best-match"]);
    }
}
