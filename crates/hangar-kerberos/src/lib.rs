//! Kerberos ticket refresher: keytab to ticket cache through MIT libkrb5 loaded at run time.
//!
//! `hangar kerberos` replaces `airflow kerberos`: it obtains a TGT from a keytab, writes it
//! atomically to a ticket cache shared with the workers, and keeps it fresh according to the
//! ticket's own times, surviving KDC outages. `hangar kerberos check` is the matching probe.
//!
//! Exit codes are stable and documented in `docs/kerberos.md`; see [`KerberosError::exit_code`]
//! and [`check::Outcome::exit_code`].

pub mod cache;
pub mod check;
mod ffi;
pub mod krb5;
pub mod log;
pub mod refresher;
pub mod schedule;
pub mod settings;
pub mod signals;

use std::path::PathBuf;

pub use refresher::{RunOptions, run};

/// How a failed Kerberos operation should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The KDC could not be reached or is busy: retry later.
    Transient,
    /// The krb5.conf configuration is unusable (syntax, unknown realm).
    Krb5Conf,
    /// The keytab is malformed, empty, or its keys do not match the KDC's.
    KeytabInvalid,
    /// The principal is not in the keytab or unknown to the KDC.
    PrincipalUnknown,
    /// The KDC refused for another reason (account locked, key expired...).
    Refused,
}

/// libkrb5 error codes (from krb5.h / profile.h) that decide the failure kind.
mod codes {
    pub(crate) const KDC_UNREACH: i32 = -1_765_328_228;
    pub(crate) const KDC_ERR_SVC_UNAVAILABLE: i32 = -1_765_328_355;
    pub(crate) const AP_ERR_SKEW: i32 = -1_765_328_347;
    pub(crate) const KDCREP_SKEW: i32 = -1_765_328_236;
    pub(crate) const REALM_CANT_RESOLVE: i32 = -1_765_328_164;
    pub(crate) const KT_NOTFOUND: i32 = -1_765_328_203;
    pub(crate) const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = -1_765_328_378;
    pub(crate) const KT_BADNAME: i32 = -1_765_328_205;
    pub(crate) const KT_UNKNOWN_TYPE: i32 = -1_765_328_204;
    pub(crate) const KT_END: i32 = -1_765_328_202;
    pub(crate) const KT_IOERR: i32 = -1_765_328_200;
    pub(crate) const KEYTAB_BADVNO: i32 = -1_765_328_171;
    pub(crate) const KT_FORMAT: i32 = -1_765_328_149;
    pub(crate) const KDC_ERR_PREAUTH_FAILED: i32 = -1_765_328_360;
    pub(crate) const AP_ERR_BAD_INTEGRITY: i32 = -1_765_328_353;
    pub(crate) const REALM_UNKNOWN: i32 = -1_765_328_230;
    pub(crate) const CONFIG_NODEFREALM: i32 = -1_765_328_160;
    pub(crate) const CONFIG_BADFORMAT: i32 = -1_765_328_248;
    pub(crate) const PROF_FIRST: i32 = -1_429_577_728;
    pub(crate) const PROF_LAST: i32 = -1_429_577_691;
}

impl FailureKind {
    /// Classifies a libkrb5 error code.
    pub fn of(code: i32) -> FailureKind {
        use codes::*;
        match code {
            KDC_UNREACH
            | KDC_ERR_SVC_UNAVAILABLE
            | AP_ERR_SKEW
            | KDCREP_SKEW
            | REALM_CANT_RESOLVE => FailureKind::Transient,
            // errno values: timeouts, refused or unreachable networks, interrupted calls.
            libc::ETIMEDOUT
            | libc::ECONNREFUSED
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
            | libc::EAGAIN
            | libc::EINTR
            | libc::ECONNRESET => FailureKind::Transient,
            KT_NOTFOUND | KDC_ERR_C_PRINCIPAL_UNKNOWN => FailureKind::PrincipalUnknown,
            KT_BADNAME
            | KT_UNKNOWN_TYPE
            | KT_END
            | KT_IOERR
            | KEYTAB_BADVNO
            | KT_FORMAT
            | KDC_ERR_PREAUTH_FAILED
            | AP_ERR_BAD_INTEGRITY => FailureKind::KeytabInvalid,
            REALM_UNKNOWN | CONFIG_NODEFREALM | CONFIG_BADFORMAT => FailureKind::Krb5Conf,
            c if (PROF_FIRST..=PROF_LAST).contains(&c) => FailureKind::Krb5Conf,
            _ => FailureKind::Refused,
        }
    }
}

/// Why `hangar kerberos` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum KerberosError {
    /// A setting is wrong.
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    /// The principal name does not parse.
    #[error(
        "the principal {principal:?} (from {source_name}) is not a valid Kerberos principal name: {message}"
    )]
    BadPrincipal {
        /// The name.
        principal: String,
        /// Where it came from.
        source_name: String,
        /// libkrb5's message.
        message: String,
    },
    /// libkrb5 is not installed.
    #[error(transparent)]
    Load(krb5::ContextError),
    /// krb5.conf is missing or unusable.
    #[error("{0}")]
    Krb5Conf(String),
    /// The keytab cannot be opened.
    #[error(
        "cannot read the keytab {path} (from {source_name}): {source}; mount the keytab there, or point \
         --keytab / AIRFLOW__KERBEROS__KEYTAB at it, and make it readable by uid {uid}"
    )]
    KeytabUnreadable {
        /// The keytab file.
        path: PathBuf,
        /// Where the setting came from.
        source_name: String,
        /// The OS error.
        source: std::io::Error,
        /// The user the refresher runs as.
        uid: u32,
    },
    /// A Kerberos operation failed.
    #[error("{message}")]
    Kerberos {
        /// How it failed.
        kind: FailureKind,
        /// The message, naming the principal/keytab and the fix.
        message: String,
    },
    /// The cache could not be written.
    #[error(transparent)]
    Cache(#[from] cache::CacheError),
    /// Setting up signal handling failed.
    #[error("cannot block termination signals: {0}")]
    Signals(std::io::Error),
}

impl KerberosError {
    /// The process exit code (documented in docs/kerberos.md).
    pub fn exit_code(&self) -> u8 {
        use hangar_exit::{code, kerberos};
        match self {
            KerberosError::Kerberos {
                kind: FailureKind::Transient,
                ..
            }
            | KerberosError::Signals(_) => code::FAILURE,
            KerberosError::Settings(settings::SettingsError::Config(e)) => {
                hangar_exit::ExitStatus::exit_code(e)
            }
            KerberosError::Settings(
                settings::SettingsError::NotABool { .. }
                | settings::SettingsError::NotANumber { .. },
            ) => code::BAD_INPUT,
            KerberosError::Settings(settings::SettingsError::UnknownId { .. })
            | KerberosError::BadPrincipal { .. } => kerberos::BAD_PRINCIPAL,
            KerberosError::Load(krb5::ContextError::Load { .. }) => kerberos::NO_LIBKRB5,
            KerberosError::Load(krb5::ContextError::Init { .. })
            | KerberosError::Krb5Conf(_)
            | KerberosError::Kerberos {
                kind: FailureKind::Krb5Conf,
                ..
            } => kerberos::KRB5_CONF,
            KerberosError::KeytabUnreadable { .. } => kerberos::KEYTAB_UNREADABLE,
            KerberosError::Kerberos {
                kind: FailureKind::KeytabInvalid,
                ..
            } => kerberos::KEYTAB_INVALID,
            KerberosError::Kerberos {
                kind: FailureKind::PrincipalUnknown,
                ..
            } => kerberos::PRINCIPAL_UNKNOWN,
            KerberosError::Cache(_) => kerberos::CACHE,
            KerberosError::Kerberos {
                kind: FailureKind::Refused,
                ..
            } => kerberos::REFUSED,
        }
    }
}

impl hangar_exit::ExitStatus for KerberosError {
    fn exit_code(&self) -> u8 {
        KerberosError::exit_code(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_of_known_codes() {
        assert_eq!(FailureKind::of(codes::KDC_UNREACH), FailureKind::Transient);
        assert_eq!(FailureKind::of(libc::ETIMEDOUT), FailureKind::Transient);
        assert_eq!(
            FailureKind::of(codes::KT_NOTFOUND),
            FailureKind::PrincipalUnknown
        );
        assert_eq!(
            FailureKind::of(codes::KDC_ERR_C_PRINCIPAL_UNKNOWN),
            FailureKind::PrincipalUnknown
        );
        assert_eq!(
            FailureKind::of(codes::KEYTAB_BADVNO),
            FailureKind::KeytabInvalid
        );
        assert_eq!(FailureKind::of(-1_429_577_713), FailureKind::Krb5Conf); // PROF_RELATION_SYNTAX
        assert_eq!(FailureKind::of(-1_765_328_366), FailureKind::Refused); // CLIENT_REVOKED
    }

    #[test]
    fn exit_codes_are_distinct_per_kind() {
        let k = |kind| {
            KerberosError::Kerberos {
                kind,
                message: String::new(),
            }
            .exit_code()
        };
        let codes = [
            k(FailureKind::Transient),
            k(FailureKind::Krb5Conf),
            k(FailureKind::KeytabInvalid),
            k(FailureKind::PrincipalUnknown),
            k(FailureKind::Refused),
        ];
        assert_eq!(codes, [1, 4, 6, 7, 9]);
    }
}
