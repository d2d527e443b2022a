//! The one place that defines hangar's process exit codes.
//!
//! Every error type that can end a hangar command implements [`ExitStatus`], so the binary
//! turns any error into its documented code the same way. The codes are documented for users
//! in `docs/entrypoint.md` and `docs/kerberos.md`; the numbers follow BSD's `sysexits.h` where
//! a meaning exists there.

/// Codes shared by every command.
pub mod code {
    /// Success.
    pub const OK: u8 = 0;
    /// A failure that upstream's tooling also reports as 1: a wait ran out of attempts, the
    /// image runs with a GID other than 0, a ticket could not be refreshed (transient).
    pub const FAILURE: u8 = 1;
    /// A value has the wrong form: a malformed URL, a non-numeric or non-boolean setting, an
    /// unknown choice (`EX_USAGE`).
    pub const BAD_INPUT: u8 = 64;
    /// An input file is malformed: the Airflow config file is not valid INI (`EX_DATAERR`).
    pub const DATA: u8 = 65;
    /// An input file cannot be read (`EX_NOINPUT`).
    pub const NO_INPUT: u8 = 66;
    /// A service hangar needs is not available to it: a `_secret` source needs Airflow's
    /// secrets backend (`EX_UNAVAILABLE`).
    pub const UNAVAILABLE: u8 = 69;
    /// hangar itself could not do something: start a process, read a directory
    /// (`EX_SOFTWARE`).
    pub const INTERNAL: u8 = 70;
    /// A command hangar ran for a value (a `*_CMD` variable, `_cmd` option) failed
    /// (`EX_OSERR`).
    pub const CMD_FAILED: u8 = 71;
    /// The server answered but refused us: a wrong password, an unknown user or database, a
    /// certificate it does not trust, not the protocol the URL names (`EX_NOPERM`).
    pub const REJECTED: u8 = 77;
    /// The exit code of a process ended by signal `n`, as shells report it.
    #[must_use]
    pub fn signalled(n: i32) -> u8 {
        u8::try_from(128 + n).unwrap_or(FAILURE)
    }
}

/// Codes of `hangar kerberos` (documented in `docs/kerberos.md`).
pub mod kerberos {
    /// The principal or a configured id (user, group) is malformed or unknown.
    pub const BAD_PRINCIPAL: u8 = 2;
    /// libkrb5 cannot be loaded (package `libkrb5-3` missing).
    pub const NO_LIBKRB5: u8 = 3;
    /// krb5.conf is missing or invalid.
    pub const KRB5_CONF: u8 = 4;
    /// The keytab cannot be read.
    pub const KEYTAB_UNREADABLE: u8 = 5;
    /// The keytab is not a valid keytab, or holds no key for the principal's enctypes.
    pub const KEYTAB_INVALID: u8 = 6;
    /// The principal is not in the keytab, or unknown to the KDC.
    pub const PRINCIPAL_UNKNOWN: u8 = 7;
    /// The ticket cache cannot be written.
    pub const CACHE: u8 = 8;
    /// The KDC refused the request for a reason that retrying will not fix.
    pub const REFUSED: u8 = 9;
    /// `hangar kerberos check`: the cache is missing or unreadable.
    pub const CHECK_MISSING: u8 = 10;
    /// `hangar kerberos check`: the cache holds no TGT.
    pub const CHECK_NO_TGT: u8 = 11;
    /// `hangar kerberos check`: the TGT has expired.
    pub const CHECK_EXPIRED: u8 = 12;
    /// `hangar kerberos check`: the TGT is valid for less than the time asked for.
    pub const CHECK_TOO_SHORT: u8 = 13;
}

/// Codes of `hangar build` (documented in `docs/build.md`).
pub mod build {
    /// The options, `hangar.toml` or environment are invalid; nothing was started.
    pub const INVALID_INPUT: u8 = 2;
}

/// An error (or outcome) that knows the exit code a command ends with when it is the cause.
pub trait ExitStatus {
    /// The process exit code; see [`code`] and [`kerberos`].
    fn exit_code(&self) -> u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let mut all = vec![
            code::OK,
            code::FAILURE,
            code::BAD_INPUT,
            code::DATA,
            code::NO_INPUT,
            code::UNAVAILABLE,
            code::INTERNAL,
            code::CMD_FAILED,
            code::REJECTED,
            kerberos::BAD_PRINCIPAL,
            kerberos::NO_LIBKRB5,
            kerberos::KRB5_CONF,
            kerberos::KEYTAB_UNREADABLE,
            kerberos::KEYTAB_INVALID,
            kerberos::PRINCIPAL_UNKNOWN,
            kerberos::CACHE,
            kerberos::REFUSED,
            kerberos::CHECK_MISSING,
            kerberos::CHECK_NO_TGT,
            kerberos::CHECK_EXPIRED,
            kerberos::CHECK_TOO_SHORT,
        ];
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn signal_codes_follow_the_shell() {
        assert_eq!(code::signalled(15), 143);
        assert_eq!(code::signalled(9), 137);
        assert_eq!(code::signalled(200), code::FAILURE);
    }
}
