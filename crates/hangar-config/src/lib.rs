//! Airflow configuration, resolved natively (no Python) in Airflow's own precedence.
//!
//! Airflow reads an option `[section] key` from, in order:
//!
//! 1. the environment variable `AIRFLOW__{SECTION}__{KEY}`,
//! 2. `AIRFLOW__{SECTION}__{KEY}_CMD`, a shell command whose trimmed standard output is the value,
//! 3. `AIRFLOW__{SECTION}__{KEY}_SECRET`, a key looked up in Airflow's secrets backend,
//! 4. `key`, `key_cmd` and `key_secret` in the config file (`$AIRFLOW_CONFIG`, by default
//!    `$AIRFLOW_HOME/airflow.cfg`).
//!
//! [`AirflowConfig`] follows that order. A `_secret` source needs Airflow's Python secrets
//! backend, which hangar deliberately does not start: it is reported as
//! [`ConfigError::NeedsSecretsBackend`] so that callers can fall back to asking Airflow itself.
//!
//! Values from the environment and the file have `$VAR`, `${VAR}` and a leading `~` expanded,
//! as Airflow does; the output of a `_cmd` is used as it is, only trimmed.

use hangar_exit::{ExitStatus, code};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod ini;

pub use ini::IniFile;

/// A snapshot of the process environment. Tests build their own.
pub type Env = BTreeMap<String, String>;

/// The default `AIRFLOW_HOME` of the production image.
pub const DEFAULT_AIRFLOW_HOME: &str = "/opt/airflow";

/// Airflow configuration as seen from one environment snapshot and one config file.
#[derive(Debug, Clone)]
pub struct AirflowConfig {
    env: Env,
    home: PathBuf,
    config_path: PathBuf,
    file: IniFile,
}

/// A resolved value and where it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The value. May be a secret (a password inside a URL): never print it as it is.
    pub value: String,
    /// Where the value was found.
    pub source: Source,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value may hold a password; Debug output ends up in logs and panics.
        f.debug_struct("Resolved")
            .field("value", &"<hidden>")
            .field("source", &self.source)
            .finish()
    }
}

/// Where a configuration value came from. `Display` names the place, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An `AIRFLOW__SECTION__KEY` environment variable.
    Env { var: String },
    /// The output of the command in an `AIRFLOW__SECTION__KEY_CMD` environment variable.
    EnvCmd { var: String },
    /// A `key` in the config file.
    File {
        path: PathBuf,
        section: String,
        key: String,
    },
    /// The output of the command in a `key_cmd` of the config file.
    FileCmd {
        path: PathBuf,
        section: String,
        key: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env { var } | Source::EnvCmd { var } => f.write_str(var),
            Source::File { path, section, key } | Source::FileCmd { path, section, key } => {
                write!(f, "[{section}] {key} in {}", path.display())
            }
        }
    }
}

/// Errors while resolving configuration. None of them carries a value or a command's output.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `_cmd` could not be run or exited unsuccessfully.
    #[error(
        "the command in {source_name} failed ({status}); fix the command or set the value directly"
    )]
    CmdFailed { source_name: String, status: String },
    /// A `_secret` source: only Airflow's own secrets backend can resolve it.
    #[error(
        "{source_name} names a secret in Airflow's secrets backend, which hangar cannot read \
         without starting Airflow"
    )]
    NeedsSecretsBackend { source_name: String },
    /// The config file exists but cannot be read.
    #[error(
        "cannot read the Airflow config file {path}: {source}; fix its permissions or point AIRFLOW_CONFIG elsewhere"
    )]
    Unreadable { path: PathBuf, source: io::Error },
    /// The config file is not valid INI.
    #[error("{path}:{line}: {message}; fix the Airflow config file")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A boolean option holds something else.
    #[error("{source_name} must be a boolean (true/false, yes/no, on/off, 1/0), found {value:?}")]
    NotBool { source_name: String, value: String },
}

impl ConfigError {
    /// A distinct process exit code per kind of error, for callers that end the process
    /// (see [`ExitStatus`]).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        ExitStatus::exit_code(self)
    }
}

impl ExitStatus for ConfigError {
    fn exit_code(&self) -> u8 {
        match self {
            ConfigError::NotBool { .. } => code::BAD_INPUT,
            ConfigError::Parse { .. } => code::DATA,
            ConfigError::Unreadable { .. } => code::NO_INPUT,
            ConfigError::NeedsSecretsBackend { .. } => code::UNAVAILABLE,
            ConfigError::CmdFailed { .. } => code::CMD_FAILED,
        }
    }
}

impl AirflowConfig {
    /// Loads the configuration seen by `env`: `AIRFLOW_HOME` (default `/opt/airflow`) and
    /// `AIRFLOW_CONFIG` (default `$AIRFLOW_HOME/airflow.cfg`). A missing file counts as empty.
    pub fn load(env: &Env) -> Result<AirflowConfig, ConfigError> {
        let home = match env.get("AIRFLOW_HOME").filter(|v| !v.is_empty()) {
            Some(v) => PathBuf::from(expand(v, env)),
            None => PathBuf::from(DEFAULT_AIRFLOW_HOME),
        };
        let config_path = match env.get("AIRFLOW_CONFIG").filter(|v| !v.is_empty()) {
            Some(v) => PathBuf::from(expand(v, env)),
            None => home.join("airflow.cfg"),
        };
        let file = match std::fs::read_to_string(&config_path) {
            Ok(text) => IniFile::parse(&text).map_err(|e| ConfigError::Parse {
                path: config_path.clone(),
                line: e.line,
                message: e.message,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => IniFile::default(),
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    path: config_path,
                    source,
                });
            }
        };
        Ok(AirflowConfig {
            env: env.clone(),
            home,
            config_path,
            file,
        })
    }

    /// The process environment snapshot this configuration was loaded from.
    #[must_use]
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// `AIRFLOW_HOME`.
    #[must_use]
    pub fn airflow_home(&self) -> &Path {
        &self.home
    }

    /// The config file consulted (it may not exist).
    #[must_use]
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The value of `[section] key`, in Airflow's precedence.
    pub fn get(&self, section: &str, key: &str) -> Result<Option<Resolved>, ConfigError> {
        self.get_first(&[(section, key)])
    }

    /// The first value found for any of `candidates`: every candidate's environment sources
    /// (the variable, then `_CMD`, then `_SECRET`) are tried before any config file source, so
    /// `AIRFLOW__CORE__X` in the environment beats `[database] x` in the file.
    pub fn get_first(&self, candidates: &[(&str, &str)]) -> Result<Option<Resolved>, ConfigError> {
        for &(section, key) in candidates {
            if let Some(found) = self.lookup_env(section, key)? {
                return Ok(Some(found));
            }
        }
        for &(section, key) in candidates {
            if let Some(found) = self.lookup_file(section, key)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// A boolean option, parsed like Python's configparser.
    pub fn get_bool(&self, section: &str, key: &str) -> Result<Option<bool>, ConfigError> {
        let Some(found) = self.get(section, key)? else {
            return Ok(None);
        };
        parse_bool(&found.value)
            .map(Some)
            .ok_or_else(|| ConfigError::NotBool {
                source_name: found.source.to_string(),
                value: found.value.clone(),
            })
    }

    fn lookup_env(&self, section: &str, key: &str) -> Result<Option<Resolved>, ConfigError> {
        let var = env_var_name(section, key);
        if let Some(value) = self.env.get(&var) {
            return Ok(Some(Resolved {
                value: expand(value, &self.env),
                source: Source::Env { var },
            }));
        }
        let cmd_var = format!("{var}_CMD");
        if let Some(command) = self.env.get(&cmd_var) {
            let value = run_command(command, &self.env, &cmd_var)?;
            return Ok(Some(Resolved {
                value,
                source: Source::EnvCmd { var: cmd_var },
            }));
        }
        let secret_var = format!("{var}_SECRET");
        if self.env.contains_key(&secret_var) {
            return Err(ConfigError::NeedsSecretsBackend {
                source_name: secret_var,
            });
        }
        Ok(None)
    }

    fn lookup_file(&self, section: &str, key: &str) -> Result<Option<Resolved>, ConfigError> {
        let place = |key: &str| (self.config_path.clone(), section.to_owned(), key.to_owned());
        if let Some(value) = self.file.get(section, key) {
            let (path, section, key) = place(key);
            return Ok(Some(Resolved {
                value: expand(&value, &self.env),
                source: Source::File { path, section, key },
            }));
        }
        let cmd_key = format!("{key}_cmd");
        if let Some(command) = self.file.get(section, &cmd_key) {
            let (path, section, key) = place(&cmd_key);
            let source = Source::FileCmd { path, section, key };
            let value = run_command(&command, &self.env, &source.to_string())?;
            return Ok(Some(Resolved { value, source }));
        }
        let secret_key = format!("{key}_secret");
        if self.file.get(section, &secret_key).is_some() {
            let (path, section, key) = place(&secret_key);
            return Err(ConfigError::NeedsSecretsBackend {
                source_name: Source::File { path, section, key }.to_string(),
            });
        }
        Ok(None)
    }
}

/// `AIRFLOW__{SECTION}__{KEY}` as Airflow spells it: dots in the section become underscores.
#[must_use]
pub fn env_var_name(section: &str, key: &str) -> String {
    format!(
        "AIRFLOW__{}__{}",
        section.replace('.', "_").to_uppercase(),
        key.to_uppercase()
    )
}

/// Python configparser's boolean words.
#[must_use]
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Runs `command` with `sh -c` in the snapshot's environment and returns its trimmed stdout.
/// Stderr goes to ours, so the user sees why a command failed; stdout (the value) never does.
fn run_command(command: &str, env: &Env, source_name: &str) -> Result<String, ConfigError> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| ConfigError::CmdFailed {
            source_name: source_name.to_owned(),
            status: format!("cannot start sh: {e}"),
        })?;
    if !output.status.success() {
        return Err(ConfigError::CmdFailed {
            source_name: source_name.to_owned(),
            status: output.status.to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Expands `$VAR`, `${VAR}` (unknown variables stay as written, like `os.path.expandvars`) and
/// a leading `~` / `~/` (like `os.path.expanduser`), as Airflow does for config values.
#[must_use]
pub fn expand(value: &str, env: &Env) -> String {
    let vars = expand_vars(value, env);
    match vars.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match env.get("HOME") {
            Some(home) => format!("{home}{rest}"),
            None => vars,
        },
        _ => vars,
    }
}

fn expand_vars(value: &str, env: &Env) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match env.get(name).filter(|_| !name.is_empty()) {
            Some(v) => {
                out.push_str(v);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn with_cfg(text: &str, extra: &[(&str, &str)]) -> (tempfile::TempDir, AirflowConfig) {
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(dir.path().join("airflow.cfg")).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let mut e = env(extra);
        e.insert("AIRFLOW_HOME".into(), dir.path().display().to_string());
        let cfg = AirflowConfig::load(&e).unwrap();
        (dir, cfg)
    }

    const CONN: [(&str, &str); 2] = [
        ("database", "sql_alchemy_conn"),
        ("core", "sql_alchemy_conn"),
    ];

    #[test]
    fn defaults_without_file() {
        let cfg = AirflowConfig::load(&env(&[])).unwrap();
        assert_eq!(cfg.airflow_home(), Path::new("/opt/airflow"));
        assert_eq!(cfg.config_path(), Path::new("/opt/airflow/airflow.cfg"));
        let cfg = AirflowConfig::load(&env(&[("AIRFLOW_HOME", "/nonexistent/x")])).unwrap();
        assert_eq!(cfg.get_first(&CONN).unwrap(), None);
    }

    #[test]
    fn env_beats_cmd_beats_file() {
        let (_d, cfg) = with_cfg(
            "[database]\nsql_alchemy_conn = postgresql://file/db\n",
            &[
                ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://env/db"),
                (
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
                    "echo postgresql://cmd/db",
                ),
            ],
        );
        let got = cfg.get_first(&CONN).unwrap().unwrap();
        assert_eq!(got.value, "postgresql://env/db");
        assert_eq!(
            got.source.to_string(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
        );

        let (_d, cfg) = with_cfg(
            "[database]\nsql_alchemy_conn = postgresql://file/db\n",
            &[(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
                "echo '  postgresql://cmd/db  '",
            )],
        );
        let got = cfg.get_first(&CONN).unwrap().unwrap();
        assert_eq!(got.value, "postgresql://cmd/db");
        assert_eq!(
            got.source,
            Source::EnvCmd {
                var: "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD".into()
            }
        );
    }

    #[test]
    fn deprecated_core_env_beats_database_in_file() {
        let (_d, cfg) = with_cfg(
            "[database]\nsql_alchemy_conn = postgresql://file/db\n",
            &[("AIRFLOW__CORE__SQL_ALCHEMY_CONN", "mysql://core-env/db")],
        );
        let got = cfg.get_first(&CONN).unwrap().unwrap();
        assert_eq!(got.value, "mysql://core-env/db");
        let (_d, cfg) = with_cfg(
            "[core]\nsql_alchemy_conn = mysql://core-file/db\n[database]\nsql_alchemy_conn = postgresql://db-file/db\n",
            &[],
        );
        let got = cfg.get_first(&CONN).unwrap().unwrap();
        assert_eq!(got.value, "postgresql://db-file/db");
        assert!(
            got.source
                .to_string()
                .starts_with("[database] sql_alchemy_conn in ")
        );
    }

    #[test]
    fn file_cmd_and_secret() {
        let (_d, cfg) = with_cfg("[celery]\nbroker_url_cmd = printf redis://h:6379/0\n", &[]);
        let got = cfg.get("celery", "broker_url").unwrap().unwrap();
        assert_eq!(got.value, "redis://h:6379/0");
        assert!(matches!(got.source, Source::FileCmd { .. }));

        let (_d, cfg) = with_cfg("[celery]\nbroker_url_secret = my-broker\n", &[]);
        let err = cfg.get("celery", "broker_url").unwrap_err();
        assert!(matches!(err, ConfigError::NeedsSecretsBackend { .. }));
        assert_eq!(err.exit_code(), 69);
    }

    #[test]
    fn env_secret_is_reported() {
        let cfg = AirflowConfig::load(&env(&[
            ("AIRFLOW_HOME", "/nonexistent"),
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET", "conn"),
        ]))
        .unwrap();
        let err = cfg.get_first(&CONN).unwrap_err();
        assert!(
            err.to_string()
                .contains("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET")
        );
    }

    #[test]
    fn failing_cmd_names_the_variable_not_the_output() {
        let cfg = AirflowConfig::load(&env(&[
            ("AIRFLOW_HOME", "/nonexistent"),
            (
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
                "echo postgresql://u:TOPSECRET@h/db; exit 3",
            ),
        ]))
        .unwrap();
        let err = cfg.get_first(&CONN).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"),
            "{msg}"
        );
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(!msg.contains("TOPSECRET"), "{msg}");
        assert_eq!(err.exit_code(), 71);
    }

    #[test]
    fn cmd_sees_the_snapshot_environment() {
        let cfg = AirflowConfig::load(&env(&[
            ("AIRFLOW_HOME", "/nonexistent"),
            ("PATH", "/usr/bin:/bin"),
            ("MY_HOST", "db.internal"),
            (
                "AIRFLOW__CORE__SQL_ALCHEMY_CONN_CMD",
                "echo postgresql://$MY_HOST/x",
            ),
        ]))
        .unwrap();
        assert_eq!(
            cfg.get_first(&CONN).unwrap().unwrap().value,
            "postgresql://db.internal/x"
        );
    }

    #[test]
    fn booleans() {
        let (_d, cfg) = with_cfg(
            "[kerberos]\nforwardable = False\ninclude_ip = yes\nbad = maybe\n",
            &[("AIRFLOW__KERBEROS__INCLUDE_RENEWAL_LIFETIME", "0")],
        );
        assert_eq!(
            cfg.get_bool("kerberos", "forwardable").unwrap(),
            Some(false)
        );
        assert_eq!(cfg.get_bool("kerberos", "include_ip").unwrap(), Some(true));
        assert_eq!(
            cfg.get_bool("kerberos", "include_renewal_lifetime")
                .unwrap(),
            Some(false)
        );
        assert_eq!(cfg.get_bool("kerberos", "missing").unwrap(), None);
        let err = cfg.get_bool("kerberos", "bad").unwrap_err();
        assert!(err.to_string().contains("[kerberos] bad"), "{err}");
        assert_eq!(err.exit_code(), 64);
    }

    #[test]
    fn config_path_from_env_and_expansion() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custom.cfg");
        std::fs::write(
            &path,
            "[core]\nexecutor = CeleryExecutor\ndags_folder = $AIRFLOW_HOME/dags\n",
        )
        .unwrap();
        let cfg = AirflowConfig::load(&env(&[
            ("AIRFLOW_HOME", "/srv/af"),
            ("AIRFLOW_CONFIG", &path.display().to_string()),
        ]))
        .unwrap();
        assert_eq!(cfg.config_path(), path);
        assert_eq!(
            cfg.get("core", "executor").unwrap().unwrap().value,
            "CeleryExecutor"
        );
        assert_eq!(
            cfg.get("core", "dags_folder").unwrap().unwrap().value,
            "/srv/af/dags"
        );
    }

    #[test]
    fn unreadable_and_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: reading fails with something other than NotFound.
        std::fs::create_dir(dir.path().join("airflow.cfg")).unwrap();
        let err = AirflowConfig::load(&env(&[("AIRFLOW_HOME", &dir.path().display().to_string())]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::Unreadable { .. }), "{err}");
        assert_eq!(err.exit_code(), 66);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("airflow.cfg"), "[core\nx = 1\n").unwrap();
        let err = AirflowConfig::load(&env(&[("AIRFLOW_HOME", &dir.path().display().to_string())]))
            .unwrap_err();
        assert!(err.to_string().contains("airflow.cfg:1:"), "{err}");
        assert_eq!(err.exit_code(), 65);
    }

    #[test]
    fn expansion_rules() {
        let e = env(&[("A", "x"), ("HOME", "/home/airflow")]);
        assert_eq!(expand("$A/${A}/$B/${B}/$", &e), "x/x/$B/${B}/$");
        assert_eq!(expand("~/dags", &e), "/home/airflow/dags");
        assert_eq!(expand("~other", &e), "~other");
        assert_eq!(expand("a$A-b", &e), "ax-b");
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_name("core", "executor"), "AIRFLOW__CORE__EXECUTOR");
        assert_eq!(
            env_var_name("kubernetes.executor", "namespace"),
            "AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE"
        );
    }

    #[test]
    fn resolved_debug_hides_the_value() {
        let r = Resolved {
            value: "postgresql://u:pw@h/db".into(),
            source: Source::Env { var: "X".into() },
        };
        assert!(!format!("{r:?}").contains("pw@"));
    }
}
