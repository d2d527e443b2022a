//! The refresher's settings, resolved like `airflow kerberos` resolves them: command line
//! first, then Airflow's `[kerberos]` section (`AIRFLOW__KERBEROS__*` variables, their `_CMD`
//! forms, airflow.cfg), then `KRB5CCNAME` for the cache, then Airflow's defaults.
#![allow(unsafe_code)]

use std::collections::BTreeMap;

use crate::cache::CacheName;
use crate::krb5::InitOptions;

/// A snapshot of the process environment.
pub type Env = BTreeMap<String, String>;

/// Airflow's default `[kerberos] ccache`.
pub const DEFAULT_CCACHE: &str = "/tmp/airflow_krb5_ccache";
/// Airflow's default `[kerberos] principal`.
pub const DEFAULT_PRINCIPAL: &str = "airflow";
/// Airflow's default `[kerberos] keytab`.
pub const DEFAULT_KEYTAB: &str = "airflow.keytab";
/// Airflow's default `[kerberos] reinit_frequency`.
pub const DEFAULT_REINIT_FREQUENCY: u64 = 3600;

/// One configured value and a description of where it came from (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The value.
    pub value: String,
    /// Where it came from, e.g. `AIRFLOW__KERBEROS__PRINCIPAL`.
    pub source: String,
}

/// Read access to Airflow's `[kerberos]` section.
pub trait KerberosConfig {
    /// The value of `[kerberos] <key>`, if set anywhere.
    fn kerberos_value(&self, key: &str) -> Result<Option<Value>, SettingsError>;
}

impl KerberosConfig for hangar_config::AirflowConfig {
    fn kerberos_value(&self, key: &str) -> Result<Option<Value>, SettingsError> {
        match self.get("kerberos", key) {
            Ok(v) => Ok(v.map(|r| Value {
                value: r.value,
                source: r.source.to_string(),
            })),
            Err(e) => Err(SettingsError::Config(e)),
        }
    }
}

impl KerberosConfig for BTreeMap<String, String> {
    fn kerberos_value(&self, key: &str) -> Result<Option<Value>, SettingsError> {
        Ok(self.get(key).map(|v| Value {
            value: v.clone(),
            source: format!("[kerberos] {key}"),
        }))
    }
}

/// A bad setting.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Reading Airflow's configuration failed (the message names the variable or file); the
    /// exit code is the configuration error's own (`hangar_exit::ExitStatus`).
    #[error("{0}")]
    Config(#[from] hangar_config::ConfigError),
    /// A number was expected.
    #[error("{source_name} must be a whole number of seconds, got {value:?}; fix the value")]
    NotANumber {
        /// Where the value came from.
        source_name: String,
        /// The value (never a secret here).
        value: String,
    },
    /// An unknown user or group name.
    #[error("{flag} {name:?}: no such {what}; give a numeric id or a name known to this system")]
    UnknownId {
        /// `user` or `group`.
        what: &'static str,
        /// The option.
        flag: &'static str,
        /// The name given.
        name: String,
    },
    /// A boolean was expected.
    #[error(
        "{source_name} must be a boolean (true/false, yes/no, on/off, 1/0), got {value:?}; fix the value"
    )]
    NotABool {
        /// Where the value came from.
        source_name: String,
        /// The value.
        value: String,
    },
}

/// A user for `--cache-owner`: a numeric uid or a name from the user database.
pub fn user_id(spec: &str) -> Result<u32, SettingsError> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(spec) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        _ => Err(SettingsError::UnknownId {
            what: "user",
            flag: "--cache-owner",
            name: spec.to_owned(),
        }),
    }
}

/// A group for `--cache-group`: a numeric gid or a name from the group database.
pub fn group_id(spec: &str) -> Result<u32, SettingsError> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(spec) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(SettingsError::UnknownId {
            what: "group",
            flag: "--cache-group",
            name: spec.to_owned(),
        }),
    }
}

/// What the command line says (each overrides the configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliValues {
    /// Positional principal (used as given, like `airflow kerberos`).
    pub principal: Option<String>,
    /// `--keytab`.
    pub keytab: Option<String>,
    /// `--ccache`.
    pub ccache: Option<String>,
    /// `--renew-lifetime`: overrides the `reinit_frequency` minutes Airflow requests.
    pub renew_lifetime: Option<u32>,
    /// `--lifetime`: requested ticket lifetime.
    pub lifetime: Option<u32>,
}

/// The resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Client principal.
    pub principal: String,
    /// Keytab name (empty: none configured).
    pub keytab: String,
    /// Where the keytab setting came from.
    pub keytab_source: String,
    /// The cache to keep fresh.
    pub ccache: CacheName,
    /// `reinit_frequency` in seconds.
    pub reinit_frequency: u64,
    /// Ticket request options.
    pub init: InitOptions,
}

/// The cache name alone (for `check`): `--ccache`, `[kerberos] ccache`, `KRB5CCNAME`, default.
pub fn resolve_ccache(
    cli: Option<&str>,
    cfg: &dyn KerberosConfig,
    env: &Env,
) -> Result<CacheName, SettingsError> {
    if let Some(c) = cli {
        return Ok(CacheName::parse(c));
    }
    if let Some(v) = cfg.kerberos_value("ccache")? {
        return Ok(CacheName::parse(&v.value));
    }
    if let Some(v) = env.get("KRB5CCNAME").filter(|v| !v.is_empty()) {
        return Ok(CacheName::parse(v));
    }
    Ok(CacheName::parse(DEFAULT_CCACHE))
}

/// Resolves every setting; `fqdn` is called only when the configured principal has `_HOST`.
pub fn resolve(
    cli: &CliValues,
    cfg: &dyn KerberosConfig,
    env: &Env,
    fqdn: &dyn Fn() -> String,
) -> Result<Settings, SettingsError> {
    let principal = match &cli.principal {
        Some(p) => p.clone(),
        None => match cfg.kerberos_value("principal")? {
            Some(v) if v.value.contains("_HOST") => v.value.replace("_HOST", &fqdn()),
            Some(v) => v.value,
            None => DEFAULT_PRINCIPAL.to_owned(),
        },
    };
    let (keytab, keytab_source) = match &cli.keytab {
        Some(k) => (k.clone(), "--keytab".to_owned()),
        None => match cfg.kerberos_value("keytab")? {
            Some(v) => (v.value, v.source),
            None => (
                DEFAULT_KEYTAB.to_owned(),
                "the default of [kerberos] keytab".to_owned(),
            ),
        },
    };
    let ccache = resolve_ccache(cli.ccache.as_deref(), cfg, env)?;
    let reinit_frequency = match cfg.kerberos_value("reinit_frequency")? {
        Some(v) => v
            .value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(SettingsError::NotANumber {
                source_name: v.source,
                value: v.value,
            })?,
        None => DEFAULT_REINIT_FREQUENCY,
    };
    let forwardable = bool_value(cfg, "forwardable", true)?;
    let include_ip = bool_value(cfg, "include_ip", true)?;
    let include_renewal_lifetime = bool_value(cfg, "include_renewal_lifetime", true)?;
    // `airflow kerberos` runs `kinit -r <reinit_frequency>m`: the renewable lifetime is the
    // refresh period read as minutes. Kept for compatibility; `--renew-lifetime` overrides it.
    let renew_life = match cli.renew_lifetime {
        Some(s) => Some(s),
        None if include_renewal_lifetime => {
            Some(u32::try_from(reinit_frequency.saturating_mul(60)).unwrap_or(u32::MAX))
        }
        None => None,
    };
    Ok(Settings {
        principal,
        keytab,
        keytab_source,
        ccache,
        reinit_frequency,
        init: InitOptions {
            forwardable,
            include_ip,
            renew_life,
            lifetime: cli.lifetime,
        },
    })
}

fn bool_value(cfg: &dyn KerberosConfig, key: &str, default: bool) -> Result<bool, SettingsError> {
    let Some(v) = cfg.kerberos_value(key)? else {
        return Ok(default);
    };
    match v.value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(SettingsError::NotABool {
            source_name: v.source,
            value: v.value,
        }),
    }
}

/// The host's fully qualified name, as Airflow's `getfqdn`: the canonical name `getaddrinfo`
/// gives for `gethostname()`, or the plain host name when resolution fails.
pub fn fqdn() -> String {
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    canonical_name(&host).unwrap_or(host)
}

fn canonical_name(host: &str) -> Option<String> {
    let c_host = std::ffi::CString::new(host).ok()?;
    // SAFETY: zeroed addrinfo hints are valid; getaddrinfo fills `res`, freed below.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        hints.ai_socktype = libc::SOCK_STREAM;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) != 0
            || res.is_null()
        {
            return None;
        }
        let name = (*res).ai_canonname;
        let out = (!name.is_null())
            .then(|| {
                std::ffi::CStr::from_ptr(name)
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|s| !s.is_empty());
        libc::freeaddrinfo(res);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn host() -> String {
        "worker-1.example.test".to_owned()
    }

    #[test]
    fn airflow_defaults() {
        let s = resolve(&CliValues::default(), &cfg(&[]), &Env::new(), &host).unwrap();
        assert_eq!(s.principal, "airflow");
        assert_eq!(s.keytab, "airflow.keytab");
        assert_eq!(s.ccache, CacheName::File("/tmp/airflow_krb5_ccache".into()));
        assert_eq!(s.reinit_frequency, 3600);
        assert_eq!(
            s.init,
            InitOptions {
                forwardable: true,
                include_ip: true,
                renew_life: Some(216_000),
                lifetime: None
            }
        );
    }

    #[test]
    fn host_placeholder_is_replaced_only_in_the_configured_principal() {
        let c = cfg(&[("principal", "airflow/_HOST@EXAMPLE.TEST")]);
        let s = resolve(&CliValues::default(), &c, &Env::new(), &host).unwrap();
        assert_eq!(s.principal, "airflow/worker-1.example.test@EXAMPLE.TEST");
        let cli = CliValues {
            principal: Some("svc/_HOST@R".into()),
            ..CliValues::default()
        };
        assert_eq!(
            resolve(&cli, &c, &Env::new(), &host).unwrap().principal,
            "svc/_HOST@R"
        );
    }

    #[test]
    fn cache_precedence_cli_config_env_default() {
        let env: Env = [("KRB5CCNAME".to_owned(), "FILE:/env/cc".to_owned())].into();
        let c = cfg(&[("ccache", "/cfg/cc")]);
        assert_eq!(
            resolve_ccache(Some("FILE:/cli"), &c, &env).unwrap(),
            CacheName::File("/cli".into())
        );
        assert_eq!(
            resolve_ccache(None, &c, &env).unwrap(),
            CacheName::File("/cfg/cc".into())
        );
        assert_eq!(
            resolve_ccache(None, &cfg(&[]), &env).unwrap(),
            CacheName::File("/env/cc".into())
        );
        assert_eq!(
            resolve_ccache(None, &cfg(&[]), &Env::new()).unwrap(),
            CacheName::File(DEFAULT_CCACHE.into())
        );
    }

    #[test]
    fn flags_and_renewal_lifetime() {
        let c = cfg(&[
            ("forwardable", "False"),
            ("include_ip", "off"),
            ("include_renewal_lifetime", "no"),
            ("reinit_frequency", "20"),
        ]);
        let s = resolve(&CliValues::default(), &c, &Env::new(), &host).unwrap();
        assert_eq!(s.reinit_frequency, 20);
        assert_eq!(
            s.init,
            InitOptions {
                forwardable: false,
                include_ip: false,
                renew_life: None,
                lifetime: None
            }
        );
        let cli = CliValues {
            renew_lifetime: Some(300),
            lifetime: Some(30),
            ..CliValues::default()
        };
        let s = resolve(&cli, &c, &Env::new(), &host).unwrap();
        assert_eq!(s.init.renew_life, Some(300));
        assert_eq!(s.init.lifetime, Some(30));
    }

    #[test]
    fn bad_values_name_their_source() {
        let e = resolve(
            &CliValues::default(),
            &cfg(&[("reinit_frequency", "soon")]),
            &Env::new(),
            &host,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("[kerberos] reinit_frequency must be a whole number"),
            "{e}"
        );
        let e = resolve(
            &CliValues::default(),
            &cfg(&[("forwardable", "maybe")]),
            &Env::new(),
            &host,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("[kerberos] forwardable must be a boolean"),
            "{e}"
        );
    }

    #[test]
    fn airflow_config_file_and_env_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("airflow.cfg"),
            "[kerberos]\nprincipal = airflow/_HOST@EXAMPLE.TEST\nkeytab = /etc/airflow.keytab\nccache = /var/kerberos-ccache/cache\n",
        )
        .unwrap();
        let env: Env = [
            ("AIRFLOW_HOME".to_owned(), dir.path().display().to_string()),
            (
                "AIRFLOW__KERBEROS__KEYTAB".to_owned(),
                "/run/secrets/kt".to_owned(),
            ),
            (
                "AIRFLOW__KERBEROS__REINIT_FREQUENCY_CMD".to_owned(),
                "echo 120".to_owned(),
            ),
        ]
        .into();
        let cfg = hangar_config::AirflowConfig::load(&env).unwrap();
        let s = resolve(&CliValues::default(), &cfg, &env, &host).unwrap();
        assert_eq!(s.principal, "airflow/worker-1.example.test@EXAMPLE.TEST");
        assert_eq!(s.keytab, "/run/secrets/kt");
        assert_eq!(s.keytab_source, "AIRFLOW__KERBEROS__KEYTAB");
        assert_eq!(
            s.ccache,
            CacheName::File("/var/kerberos-ccache/cache".into())
        );
        assert_eq!(s.reinit_frequency, 120);
    }

    #[test]
    fn owners_by_number_or_name() {
        assert_eq!(user_id("1234").unwrap(), 1234);
        assert_eq!(user_id("root").unwrap(), 0);
        assert_eq!(group_id("root").unwrap(), 0);
        let e = user_id("no-such-user-hangar").unwrap_err();
        assert!(
            e.to_string()
                .contains("--cache-owner \"no-such-user-hangar\": no such user"),
            "{e}"
        );
    }

    #[test]
    fn a_config_error_stays_typed_with_its_exit_code() {
        let env: Env = [(
            "AIRFLOW__KERBEROS__INCLUDE_IP_CMD".to_owned(),
            "exit 3".to_owned(),
        )]
        .into();
        let cfg = hangar_config::AirflowConfig::load(&env).unwrap();
        let e = cfg.kerberos_value("include_ip").unwrap_err();
        let source = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<hangar_config::ConfigError>())
            .expect("the typed configuration error is the source");
        assert!(matches!(
            source,
            hangar_config::ConfigError::CmdFailed { .. }
        ));
        assert_eq!(e.to_string(), source.to_string());
        let code = hangar_exit::ExitStatus::exit_code(source);
        assert_eq!(crate::KerberosError::Settings(e).exit_code(), code);
    }

    #[test]
    fn fqdn_is_not_empty() {
        assert!(!fqdn().is_empty());
    }
}
