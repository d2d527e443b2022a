//! pip command lines (pure functions) and the environment pip runs with.

use std::path::Path;

use crate::exec::Cmd;

/// Where the build's secrets appear when the engine mounted them (`RUN --mount=type=secret`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    pub ca_bundle: Option<String>,
    pub pip_conf: Option<String>,
    pub netrc: Option<String>,
    /// The contents of the `pip-index-url` secret (may carry a token).
    pub index_url: Option<String>,
    /// The contents of the `pip-extra-index-url` secret: space-separated URLs.
    pub extra_index_urls: Option<String>,
}

impl std::fmt::Debug for Secrets {
    /// Paths only: the index URLs may carry a token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("ca_bundle", &self.ca_bundle)
            .field("pip_conf", &self.pip_conf)
            .field("netrc", &self.netrc)
            .field("index_url", &self.index_url.as_ref().map(|_| "<hidden>"))
            .field(
                "extra_index_urls",
                &self.extra_index_urls.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

/// The context file names that configure pip, in the order they are looked for.
pub const CONTEXT_PIP_CONFIGS: [&str; 2] = ["pip.conf", ".piprc"];

impl Secrets {
    /// Looks for `/run/secrets/{hangar-ca,pip-conf,netrc,pip-index-url,pip-extra-index-url}`
    /// and, without a `pip-conf` secret, a context `pip.conf` or `.piprc`.
    pub fn discover(secrets_dir: &Path, context_dir: &Path) -> Self {
        let found = |p: &Path| p.is_file().then(|| p.display().to_string());
        let text = |name: &str| {
            std::fs::read_to_string(secrets_dir.join(name))
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        Self {
            ca_bundle: found(&secrets_dir.join("hangar-ca")),
            pip_conf: found(&secrets_dir.join("pip-conf")).or_else(|| {
                CONTEXT_PIP_CONFIGS
                    .iter()
                    .find_map(|name| found(&context_dir.join(name)))
            }),
            netrc: found(&secrets_dir.join("netrc")),
            index_url: text("pip-index-url"),
            extra_index_urls: text("pip-extra-index-url"),
        }
    }

    /// Environment for pip, Python's urllib and curl-like tools in the same step. The index
    /// URLs beat those of a pip.conf, as pip's own variables do.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(ca) = &self.ca_bundle {
            for key in [
                "PIP_CERT",
                "REQUESTS_CA_BUNDLE",
                "SSL_CERT_FILE",
                "CURL_CA_BUNDLE",
            ] {
                env.push((key.to_owned(), ca.clone()));
            }
        }
        if let Some(conf) = &self.pip_conf {
            env.push(("PIP_CONFIG_FILE".to_owned(), conf.clone()));
        }
        if let Some(netrc) = &self.netrc {
            env.push(("NETRC".to_owned(), netrc.clone()));
        }
        if let Some(url) = &self.index_url {
            env.push(("PIP_INDEX_URL".to_owned(), url.clone()));
        }
        if let Some(urls) = &self.extra_index_urls {
            env.push(("PIP_EXTRA_INDEX_URL".to_owned(), urls.clone()));
        }
        env
    }

    /// True when something tells pip which index to use: a pip.conf, `.piprc` or an index URL.
    pub fn configures_an_index(&self) -> bool {
        self.pip_conf.is_some() || self.index_url.is_some() || self.extra_index_urls.is_some()
    }
}

/// Fixed pip settings of every build step.
pub fn base_env(cass_concurrency: &str) -> Vec<(String, String)> {
    [
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        ("PIP_NO_INPUT", "1"),
        ("PIP_PROGRESS_BAR", "off"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
        ("CASS_DRIVER_BUILD_CONCURRENCY", cass_concurrency),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// `python3 -m venv VENV`.
pub fn venv_cmd(venv: &Path) -> Cmd {
    Cmd::new("python3")
        .args(["-m", "venv"])
        .arg(venv.display().to_string())
}

/// `python3 -c …` printing `MAJOR.MINOR` of the base image's Python.
pub fn python_version_cmd() -> Cmd {
    Cmd::new("python3").args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
}

fn pip(venv: &Path) -> Cmd {
    Cmd::new(&venv.join("bin/python").display().to_string()).args(["-m", "pip"])
}

/// Options shared by every `pip install`.
#[derive(Debug, Clone, Default)]
pub struct InstallOpts<'a> {
    /// `ADDITIONAL_PIP_INSTALL_FLAGS`, split on whitespace.
    pub extra_flags: Vec<String>,
    pub constraints: Option<&'a Path>,
    /// Offline install from a folder (`--no-index --find-links DIR`).
    pub find_links: Option<&'a Path>,
    pub no_deps: bool,
    pub upgrade_only_if_needed: bool,
}

/// How an install command line is spelled: pip and `uv pip` spell the install options alike,
/// except that uv needs no upgrade strategy (it keeps installed versions that satisfy the
/// requirements unless told to upgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Pip,
    Uv,
}

/// Appends `o` and then `reqs` to an install command `c` in `dialect`.
pub(crate) fn with_install_opts(
    mut c: Cmd,
    dialect: Dialect,
    reqs: &[String],
    o: &InstallOpts<'_>,
) -> Cmd {
    if let Some(dir) = o.find_links {
        c = c
            .args(["--no-index", "--find-links"])
            .arg(dir.display().to_string());
    }
    if o.no_deps {
        c = c.arg("--no-deps");
    }
    if o.upgrade_only_if_needed && dialect == Dialect::Pip {
        c = c.args(["--upgrade", "--upgrade-strategy", "only-if-needed"]);
    }
    if let Some(path) = o.constraints {
        c = c.arg("--constraint").arg(path.display().to_string());
    }
    c.args(o.extra_flags.iter().cloned())
        .args(reqs.iter().cloned())
}

/// `pip install [opts] REQS…`.
pub fn install_cmd(venv: &Path, reqs: &[String], o: &InstallOpts<'_>) -> Cmd {
    with_install_opts(pip(venv).arg("install"), Dialect::Pip, reqs, o)
}

/// `pip check`.
pub fn check_cmd(venv: &Path) -> Cmd {
    pip(venv).arg("check")
}

/// `pip freeze --exclude-editable` (the effective constraints of an unconstrained build).
pub fn freeze_cmd(venv: &Path) -> Cmd {
    pip(venv).args(["freeze", "--exclude-editable"])
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "/home/airflow/.local";

    #[test]
    fn airflow_install_argv() {
        let c = install_cmd(
            Path::new(V),
            &["apache-airflow[postgres,celery]==3.3.2".to_owned()],
            &InstallOpts {
                extra_flags: vec!["--no-binary".into(), "lxml".into()],
                constraints: Some(Path::new("/home/airflow/constraints.txt")),
                ..Default::default()
            },
        );
        assert_eq!(c.program, "/home/airflow/.local/bin/python");
        assert_eq!(
            c.args,
            [
                "-m",
                "pip",
                "install",
                "--constraint",
                "/home/airflow/constraints.txt",
                "--no-binary",
                "lxml",
                "apache-airflow[postgres,celery]==3.3.2"
            ]
        );
    }

    #[test]
    fn offline_and_additional_argv() {
        let c = install_cmd(
            Path::new(V),
            &["apache-airflow==2.10.5".to_owned()],
            &InstallOpts {
                find_links: Some(Path::new("/docker-context-files")),
                ..Default::default()
            },
        );
        assert_eq!(
            c.args,
            [
                "-m",
                "pip",
                "install",
                "--no-index",
                "--find-links",
                "/docker-context-files",
                "apache-airflow==2.10.5"
            ]
        );
        let c = install_cmd(
            Path::new(V),
            &["six".to_owned(), "pandas==2.1.2".to_owned()],
            &InstallOpts {
                upgrade_only_if_needed: true,
                ..Default::default()
            },
        );
        assert_eq!(
            c.args,
            [
                "-m",
                "pip",
                "install",
                "--upgrade",
                "--upgrade-strategy",
                "only-if-needed",
                "six",
                "pandas==2.1.2"
            ]
        );
        let c = install_cmd(
            Path::new(V),
            &["/d/x.whl".to_owned()],
            &InstallOpts {
                no_deps: true,
                ..Default::default()
            },
        );
        assert_eq!(c.args, ["-m", "pip", "install", "--no-deps", "/d/x.whl"]);
        let c = crate::installer::Installer::Pip.requirements_cmd(
            Path::new(V),
            Path::new("/docker-context-files/requirements.txt"),
            &InstallOpts::default(),
        );
        assert_eq!(
            c.args,
            [
                "-m",
                "pip",
                "install",
                "-r",
                "/docker-context-files/requirements.txt"
            ]
        );
        assert_eq!(
            check_cmd(Path::new(V)).display(),
            "/home/airflow/.local/bin/python -m pip check"
        );
        assert_eq!(
            freeze_cmd(Path::new(V)).args,
            ["-m", "pip", "freeze", "--exclude-editable"]
        );
        assert_eq!(
            venv_cmd(Path::new(V)).display(),
            "python3 -m venv /home/airflow/.local"
        );
    }

    #[test]
    fn secrets_become_pip_environment() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        let ctx = dir.path().join("ctx");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::create_dir_all(&ctx).unwrap();
        assert!(Secrets::discover(&secrets, &ctx).env().is_empty());
        std::fs::write(ctx.join("pip.conf"), "[global]\n").unwrap();
        let s = Secrets::discover(&secrets, &ctx);
        assert_eq!(s.pip_conf, Some(ctx.join("pip.conf").display().to_string()));
        std::fs::write(secrets.join("hangar-ca"), "pem").unwrap();
        std::fs::write(secrets.join("pip-conf"), "[global]\n").unwrap();
        let env = Secrets::discover(&secrets, &ctx).env();
        let ca = secrets.join("hangar-ca").display().to_string();
        assert!(env.contains(&("PIP_CERT".to_owned(), ca.clone())));
        assert!(env.contains(&("SSL_CERT_FILE".to_owned(), ca)));
        assert!(env.contains(&(
            "PIP_CONFIG_FILE".to_owned(),
            secrets.join("pip-conf").display().to_string()
        )));
    }

    #[test]
    fn index_urls_and_piprc_reach_pip_and_stay_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        let ctx = dir.path().join("ctx");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join(".pypirc"), "[distutils]\n").unwrap();
        let s = Secrets::discover(&secrets, &ctx);
        assert!(
            !s.configures_an_index(),
            "a .pypirc alone configures no index"
        );
        std::fs::write(ctx.join(".piprc"), "[global]\n").unwrap();
        let s = Secrets::discover(&secrets, &ctx);
        assert_eq!(s.pip_conf, Some(ctx.join(".piprc").display().to_string()));
        assert!(s.configures_an_index());
        std::fs::write(
            secrets.join("pip-index-url"),
            "https://u:tok3n@idx/simple\n",
        )
        .unwrap();
        std::fs::write(
            secrets.join("pip-extra-index-url"),
            "https://a/simple https://b/simple",
        )
        .unwrap();
        let s = Secrets::discover(&secrets, &ctx);
        let env = s.env();
        assert!(env.contains(&(
            "PIP_INDEX_URL".to_owned(),
            "https://u:tok3n@idx/simple".to_owned()
        )));
        assert!(env.contains(&(
            "PIP_EXTRA_INDEX_URL".to_owned(),
            "https://a/simple https://b/simple".to_owned()
        )));
        assert!(!format!("{s:?}").contains("tok3n"), "{s:?}");
    }
}
