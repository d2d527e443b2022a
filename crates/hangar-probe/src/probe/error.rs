//! Why one attempt failed: a [`Kind`] that decides whether waiting helps, a typed [`Reason`]
//! that says what happened, and the message shown to the user.

use std::fmt;
use std::ops::Deref;

/// Why one attempt failed. The variant is the [`Kind`]; the [`Detail`] carries the typed
/// [`Reason`] and the message. The message never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Nothing answered: name not resolved, connection refused, timeout.
    #[error("{0}")]
    Unreachable(Detail),
    /// The server answered but is not ready yet (starting up, loading, too many connections).
    #[error("{0}")]
    NotReady(Detail),
    /// The server answered with an error waiting will not fix: wrong password, unknown user or
    /// database, or it speaks another protocol.
    #[error("{0}")]
    Rejected(Detail),
}

/// Whether waiting may help, the retry decision of [`crate::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Nothing answered: keep trying.
    Unreachable,
    /// The server answered "not ready": keep trying, gently.
    NotReady,
    /// Waiting will not help: stop at once.
    Rejected,
}

/// What made an attempt fail, as data (the message says it in words).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The host name did not resolve, or connecting failed or timed out.
    Connect,
    /// Connected, but the server did not answer in time.
    NoAnswer,
    /// Connected, but the server closed the connection.
    Closed,
    /// Another I/O error on an established connection.
    Io(std::io::ErrorKind),
    /// The peer does not speak the expected protocol, version or message sequence.
    Protocol,
    /// The server is too old for the probe's protocol.
    Unsupported,
    /// The server declined TLS (PostgreSQL answered `N` to `SSLRequest`).
    TlsRefusedByServer,
    /// The TLS client could not be set up (e.g. an unreadable CA file).
    TlsSetup,
    /// The TLS handshake failed (certificate refused, no common parameters).
    TlsHandshake,
    /// The authentication exchange failed on the client's side (e.g. SCRAM).
    Auth,
    /// A PostgreSQL `ErrorResponse` with this SQLSTATE code.
    Sqlstate(String),
    /// A MySQL/MariaDB ERR packet with this error code.
    Mysql(u16),
    /// A Redis error reply with this first word (`LOADING`, `WRONGPASS`, …).
    Redis(String),
    /// An AMQP `Connection.Close` with this reply code.
    Amqp(u16),
    /// The SQLite database's directory or file is missing or not writable.
    Sqlite,
    /// The metadata database is not (yet) migrated for the Airflow in this image, or is ahead.
    Migration,
}

/// The reason and message of a [`ProbeError`]. Dereferences to the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    reason: Reason,
    message: String,
}

impl Detail {
    /// What happened, as data.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The message shown to the user.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Deref for Detail {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ProbeError {
    /// A failure of `kind` for `reason`, shown as `message`.
    pub fn new(kind: Kind, reason: Reason, message: impl Into<String>) -> ProbeError {
        let d = Detail {
            reason,
            message: message.into(),
        };
        match kind {
            Kind::Unreachable => ProbeError::Unreachable(d),
            Kind::NotReady => ProbeError::NotReady(d),
            Kind::Rejected => ProbeError::Rejected(d),
        }
    }

    pub(crate) fn unreachable(reason: Reason, message: impl Into<String>) -> ProbeError {
        ProbeError::new(Kind::Unreachable, reason, message)
    }

    pub(crate) fn not_ready(reason: Reason, message: impl Into<String>) -> ProbeError {
        ProbeError::new(Kind::NotReady, reason, message)
    }

    pub(crate) fn rejected(reason: Reason, message: impl Into<String>) -> ProbeError {
        ProbeError::new(Kind::Rejected, reason, message)
    }

    /// Whether waiting may help.
    pub fn kind(&self) -> Kind {
        match self {
            ProbeError::Unreachable(_) => Kind::Unreachable,
            ProbeError::NotReady(_) => Kind::NotReady,
            ProbeError::Rejected(_) => Kind::Rejected,
        }
    }

    fn detail(&self) -> &Detail {
        match self {
            ProbeError::Unreachable(d) | ProbeError::NotReady(d) | ProbeError::Rejected(d) => d,
        }
    }

    /// What happened, as data.
    pub fn reason(&self) -> &Reason {
        &self.detail().reason
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        &self.detail().message
    }

    /// The same failure with `what` (the target's description) in front of the message.
    pub(crate) fn with_context(self, what: &str) -> ProbeError {
        let kind = self.kind();
        let (ProbeError::Unreachable(d) | ProbeError::NotReady(d) | ProbeError::Rejected(d)) = self;
        ProbeError::new(kind, d.reason, format!("{what}: {}", d.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_reason_and_message_survive_the_context() {
        let e = ProbeError::rejected(Reason::Sqlstate("28P01".into()), "bad password")
            .with_context("PostgreSQL at db:5432");
        assert_eq!(e.kind(), Kind::Rejected);
        assert_eq!(e.reason(), &Reason::Sqlstate("28P01".into()));
        assert_eq!(e.message(), "PostgreSQL at db:5432: bad password");
        assert_eq!(e.to_string(), e.message());
        let ProbeError::Rejected(d) = &e else {
            panic!("{e:?}")
        };
        assert!(d.contains("bad password"), "dereferences to the message");
        assert_eq!(d.to_string(), e.message());
    }

    #[test]
    fn new_builds_the_variant_of_the_kind() {
        for kind in [Kind::Unreachable, Kind::NotReady, Kind::Rejected] {
            let e = ProbeError::new(kind, Reason::Closed, "m");
            assert_eq!(e.kind(), kind);
            assert_eq!(e.reason(), &Reason::Closed);
        }
        assert!(matches!(
            ProbeError::new(Kind::NotReady, Reason::Redis("LOADING".into()), "x"),
            ProbeError::NotReady(_)
        ));
    }
}
