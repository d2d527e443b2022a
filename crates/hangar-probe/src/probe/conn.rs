//! The connection one attempt runs over: name resolution and connect (TCP or unix socket)
//! within the attempt's deadline, the optional TLS upgrade, reads and writes under that
//! deadline, and what an I/O error on it means for readiness.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{ProbeError, Reason};
use crate::target::{Endpoint, host_port};
use crate::tls::{self, HandshakeError, TlsOptions, TlsStream};

/// Connects to `endpoint` within `deadline` and, with `tls`, runs the TLS handshake with its
/// host (TCP only: a unix socket stays plain). Every failure starts with `what`, the target's
/// description.
pub(super) fn connect(
    endpoint: &Endpoint,
    tls: Option<&TlsOptions>,
    deadline: Instant,
    what: &str,
) -> Result<Conn, ProbeError> {
    let conn = Conn::open(endpoint, deadline, what)?;
    match (tls, endpoint) {
        (Some(opts), Endpoint::Tcp { host, .. }) => {
            conn.into_tls(host, opts).map_err(|e| e.with_context(what))
        }
        _ => Ok(conn),
    }
}

/// The socket under a [`Conn`].
enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
    Unix(UnixStream),
}

/// A TCP, TLS or unix socket connection with a deadline applied to every read and write.
pub(super) struct Conn {
    stream: Stream,
    deadline: Instant,
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let now = Instant::now();
    (deadline > now).then(|| deadline - now)
}

/// Resolves `host:port`, on a helper thread so a stuck resolver cannot outlive the deadline.
fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
    });
    let wait = remaining(deadline).unwrap_or_default();
    match rx.recv_timeout(wait) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(format!("the name {host} has no address")),
        Ok(Err(e)) => Err(format!("cannot resolve host name {host}: {e}")),
        Err(_) => Err(format!("resolving host name {host} timed out")),
    }
}

impl Conn {
    pub(super) fn open(
        endpoint: &Endpoint,
        deadline: Instant,
        what: &str,
    ) -> Result<Conn, ProbeError> {
        let unreachable =
            |m: String| ProbeError::unreachable(Reason::Connect, format!("{what}: {m}"));
        let stream = match endpoint {
            Endpoint::Tcp { host, port } => {
                let addrs = resolve(host, *port, deadline).map_err(unreachable)?;
                let mut last = None;
                let mut found = None;
                for addr in addrs {
                    let Some(left) = remaining(deadline) else {
                        break;
                    };
                    match TcpStream::connect_timeout(&addr, left) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = Some((addr, e)),
                    }
                }
                match (found, last) {
                    (Some(s), _) => {
                        let _ = s.set_nodelay(true);
                        Stream::Tcp(s)
                    }
                    (None, Some((addr, e))) => {
                        return Err(unreachable(format!(
                            "cannot connect to {addr}: {}",
                            io_msg(&e)
                        )));
                    }
                    (None, None) => {
                        return Err(unreachable(format!(
                            "connecting to {} timed out",
                            host_port(host, *port)
                        )));
                    }
                }
            }
            Endpoint::Unix { path } => {
                // connect(2) on a unix socket blocks while the listen backlog is full: run it
                // on a helper thread so the deadline holds.
                let (tx, rx) = mpsc::channel();
                let p = path.clone();
                std::thread::spawn(move || {
                    let _ = tx.send(UnixStream::connect(p));
                });
                match rx.recv_timeout(remaining(deadline).unwrap_or_default()) {
                    Ok(Ok(s)) => Stream::Unix(s),
                    Ok(Err(e)) => {
                        return Err(unreachable(format!(
                            "cannot connect to {}: {}",
                            path.display(),
                            io_msg(&e)
                        )));
                    }
                    Err(_) => {
                        return Err(unreachable(format!(
                            "connecting to {} timed out",
                            path.display()
                        )));
                    }
                }
            }
        };
        Ok(Conn { stream, deadline })
    }

    fn arm(&self) -> io::Result<()> {
        let left = remaining(self.deadline)
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"))?;
        match &self.stream {
            Stream::Tcp(s) => {
                s.set_read_timeout(Some(left))?;
                s.set_write_timeout(Some(left))
            }
            Stream::Tls(s) => {
                s.sock.set_read_timeout(Some(left))?;
                s.sock.set_write_timeout(Some(left))
            }
            Stream::Unix(s) => {
                s.set_read_timeout(Some(left))?;
                s.set_write_timeout(Some(left))
            }
        }
    }

    pub(super) fn send(&mut self, data: &[u8]) -> Result<(), ProbeError> {
        self.arm().map_err(io_err)?;
        match &mut self.stream {
            Stream::Tcp(s) => s.write_all(data),
            Stream::Tls(s) => s.write_all(data).and_then(|()| s.flush()),
            Stream::Unix(s) => s.write_all(data),
        }
        .map_err(io_err)
    }

    pub(super) fn recv_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
        self.arm().map_err(io_err)?;
        match &mut self.stream {
            Stream::Tcp(s) => s.read_exact(buf),
            Stream::Tls(s) => s.read_exact(buf),
            Stream::Unix(s) => s.read_exact(buf),
        }
        .map_err(io_err)
    }

    /// Turns a TCP connection into a TLS session with `host` (the handshake counts against
    /// the deadline). A refused certificate or negotiation is a rejection: waiting will not
    /// change it. A unix socket stays as it is (libpq does not use TLS there either).
    pub(super) fn into_tls(self, host: &str, opts: &TlsOptions) -> Result<Conn, ProbeError> {
        self.arm().map_err(io_err)?;
        let Conn { stream, deadline } = self;
        let Stream::Tcp(sock) = stream else {
            return Ok(Conn { stream, deadline });
        };
        match tls::connect(sock, host, opts) {
            Ok(s) => Ok(Conn {
                stream: Stream::Tls(Box::new(s)),
                deadline,
            }),
            Err(HandshakeError::Io(e)) => Err(io_err(e)),
            Err(HandshakeError::Setup(m)) => Err(ProbeError::rejected(
                Reason::TlsSetup,
                format!("cannot set up TLS: {m}; fix the CA file (URL parameter or SSL_CERT_FILE)"),
            )),
            Err(HandshakeError::Tls(e)) => Err(ProbeError::rejected(
                Reason::TlsHandshake,
                format!(
                    "TLS handshake failed: {e}; give the server's CA in the URL (sslrootcert, \
                 ssl_ca_certs) or SSL_CERT_FILE, or relax the check (sslmode=require, \
                 ssl_cert_reqs=none)"
                ),
            )),
        }
    }
}

fn io_msg(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::UnexpectedEof => "the server closed the connection".into(),
        _ => e.to_string(),
    }
}

/// An I/O error on an established connection. A server that accepted the connection but
/// does not answer in time, or hangs up, is up but not serving: not ready.
fn io_err(e: io::Error) -> ProbeError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ProbeError::not_ready(
            Reason::NoAnswer,
            "connected, but the server did not answer in time (busy, or another protocol)",
        ),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ProbeError::not_ready(
            Reason::Closed,
            "connected, but the server closed the connection",
        ),
        kind => ProbeError::unreachable(Reason::Io(kind), io_msg(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Kind;

    #[test]
    fn io_errors_on_a_connection() {
        use std::io::{Error, ErrorKind};
        let e = io_err(Error::from(ErrorKind::TimedOut));
        assert_eq!((e.kind(), e.reason()), (Kind::NotReady, &Reason::NoAnswer));
        let e = io_err(Error::from(ErrorKind::ConnectionReset));
        assert_eq!((e.kind(), e.reason()), (Kind::NotReady, &Reason::Closed));
        let e = io_err(Error::from(ErrorKind::PermissionDenied));
        assert_eq!(
            (e.kind(), e.reason()),
            (Kind::Unreachable, &Reason::Io(ErrorKind::PermissionDenied))
        );
    }
}
