//! One readiness attempt against a [`Target`], speaking just enough of each protocol.
//!
//! | Target | Ready when | Not ready (keep waiting) | Rejected (stop at once) |
//! |---|---|---|---|
//! | PostgreSQL | `AuthenticationOk` + `ReadyForQuery` (with a password), any auth request (without) | `57P03` starting up / shutting down, `53300` too many connections | `28P01` wrong password, `28000` unknown role / no `pg_hba.conf` entry, `3D000` unknown database |
//! | MySQL/MariaDB | OK after `HandshakeResponse41` (with a user), the greeting (without) | ERR 1040 too many connections, 1053 shutdown, … | ERR 1045 access denied, 1044, 1049 unknown database, 1129/1130 host blocked/not allowed |
//! | Redis | `+PONG` (after `AUTH` when credentials are given) | `-LOADING`, `-BUSY`, `-MASTERDOWN`, … | `-WRONGPASS`, `-NOAUTH`, `-NOPERM`, not RESP |
//! | AMQP 0-9-1 | `Connection.Start` | | another protocol header or frame |
//! | TCP | TCP connect | | |
//! | SQLite | the file's directory exists and is writable | missing or read-only directory | |
//!
//! TLS (rustls, see [`crate::tls`]): `rediss`, `amqps`, PostgreSQL's `sslmode=require`/
//! `verify-*` (and `prefer` against a server that refuses plain connections) and MySQL/MariaDB
//! servers that offer it (over TCP) run the same exchange over TLS. A refused certificate is a
//! rejection.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::target::{Endpoint, PgTls, Secret, Target, host_port};
use crate::tls::{self, HandshakeError, TlsOptions, TlsStream};

mod error;
#[cfg(test)]
mod reason_tests;

pub use error::{Detail, Kind, ProbeError, Reason};

/// Makes one attempt to check that `target` is ready, spending at most about `timeout`.
pub fn probe(target: &Target, timeout: Duration) -> Result<(), ProbeError> {
    let deadline = Instant::now() + timeout;
    let what = target.describe();
    match target {
        Target::Postgres {
            endpoint,
            user,
            password,
            database,
            tls,
            tls_options,
        } => {
            let attempt = |tls: PgTls| {
                let mut conn = Conn::open(endpoint, deadline, &what)?;
                if tls == PgTls::Required
                    && let Endpoint::Tcp { host, .. } = endpoint
                {
                    pg_ssl_request(&mut conn).map_err(|e| e.with_context(&what))?;
                    conn = conn
                        .into_tls(host, tls_options)
                        .map_err(|e| e.with_context(&what))?;
                }
                postgres(
                    &mut conn,
                    user.as_deref(),
                    password.as_ref(),
                    database.as_deref(),
                )
                .map_err(|e| e.with_context(&what))
            };
            match attempt(*tls) {
                // pg_hba.conf refused the plain connection (e.g. `hostssl` lines only): libpq's
                // default sslmode would have asked for TLS first, so do what it would.
                Err(plain) if *tls == PgTls::Prefer && pg_hba_rejected(&plain) => {
                    match attempt(PgTls::Required) {
                        // No TLS either: the plain connection's rejection is the answer.
                        Err(e) if e.reason() == &Reason::TlsRefusedByServer => Err(plain),
                        res => res,
                    }
                }
                res => res,
            }
        }
        Target::Mysql {
            endpoint,
            user,
            password,
            database,
        } => {
            let conn = Conn::open(endpoint, deadline, &what)?;
            let host = match endpoint {
                Endpoint::Tcp { host, .. } => Some(host.as_str()),
                Endpoint::Unix { .. } => None,
            };
            mysql(
                conn,
                host,
                user.as_deref(),
                password.as_ref(),
                database.as_deref(),
            )
            .map_err(|e| e.with_context(&what))
        }
        Target::Redis {
            host,
            port,
            tls,
            username,
            password,
        } => {
            let ep = Endpoint::Tcp {
                host: host.clone(),
                port: *port,
            };
            let mut conn = Conn::open(&ep, deadline, &what)?;
            if let Some(opts) = tls {
                conn = conn
                    .into_tls(host, opts)
                    .map_err(|e| e.with_context(&what))?;
            }
            redis(&mut conn, username.as_deref(), password.as_ref())
                .map_err(|e| e.with_context(&what))
        }
        Target::Amqp {
            host,
            port,
            tls,
            username,
            password,
            vhost,
        } => {
            let ep = Endpoint::Tcp {
                host: host.clone(),
                port: *port,
            };
            let mut conn = Conn::open(&ep, deadline, &what)?;
            if let Some(opts) = tls {
                conn = conn
                    .into_tls(host, opts)
                    .map_err(|e| e.with_context(&what))?;
            }
            let login = username.as_deref().map(|u| {
                (
                    u,
                    password.as_ref().map_or("", Secret::expose),
                    vhost.as_str(),
                )
            });
            amqp(&mut conn, login).map_err(|e| e.with_context(&what))
        }
        Target::Tcp { host, port } => {
            let ep = Endpoint::Tcp {
                host: host.clone(),
                port: *port,
            };
            Conn::open(&ep, deadline, &what).map(drop)
        }
        Target::SqliteFile { path } => sqlite(path),
        Target::SqliteMemory => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

/// A TCP, TLS or unix socket connection with a deadline applied to every read and write.
enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
    Unix(UnixStream),
}

struct Conn {
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
    fn open(endpoint: &Endpoint, deadline: Instant, what: &str) -> Result<Conn, ProbeError> {
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

    fn send(&mut self, data: &[u8]) -> Result<(), ProbeError> {
        self.arm().map_err(io_err)?;
        match &mut self.stream {
            Stream::Tcp(s) => s.write_all(data),
            Stream::Tls(s) => s.write_all(data).and_then(|()| s.flush()),
            Stream::Unix(s) => s.write_all(data),
        }
        .map_err(io_err)
    }

    fn recv_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
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
    fn into_tls(self, host: &str, opts: &TlsOptions) -> Result<Conn, ProbeError> {
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

    /// Reads one RESP line up to `\r\n` (at most 64 KiB); a first byte that is not a RESP
    /// type marker means the peer is not a Redis server.
    fn recv_line(&mut self) -> Result<String, ProbeError> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 65536 {
                return Err(ProbeError::rejected(
                    Reason::Protocol,
                    "reply line too long: not a Redis server",
                ));
            }
            self.recv_exact(&mut byte)?;
            if line.is_empty() && !b"+-:$*_#,(!=%~>|".contains(&byte[0]) {
                return Err(ProbeError::rejected(
                    Reason::Protocol,
                    "protocol mismatch: the server does not speak the Redis protocol",
                ));
            }
            line.push(byte[0]);
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
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

// ---------------------------------------------------------------------------------------------
// PostgreSQL

fn pg_msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 5);
    m.push(tag);
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn pg_read(conn: &mut Conn) -> Result<(u8, Vec<u8>), ProbeError> {
    let mut head = [0u8; 5];
    conn.recv_exact(&mut head)?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if !(4..=1 << 20).contains(&len) {
        return Err(ProbeError::rejected(
            Reason::Protocol,
            "the server does not speak the PostgreSQL protocol",
        ));
    }
    let mut body = vec![0u8; len - 4];
    conn.recv_exact(&mut body)?;
    Ok((head[0], body))
}

/// Fields of an ErrorResponse: (SQLSTATE, message).
fn pg_error_fields(body: &[u8]) -> (String, String) {
    let mut code = String::new();
    let mut msg = String::new();
    for field in body.split(|&b| b == 0) {
        if let Some((&t, v)) = field.split_first() {
            let v = String::from_utf8_lossy(v).into_owned();
            match t {
                b'C' => code = v,
                b'M' => msg = v,
                _ => {}
            }
        }
    }
    (code, msg)
}

/// Sends `SSLRequest`; `Ok` when the server agrees to a TLS handshake.
fn pg_ssl_request(conn: &mut Conn) -> Result<(), ProbeError> {
    conn.send(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])?;
    let mut b = [0u8; 1];
    conn.recv_exact(&mut b)?;
    match b[0] {
        b'S' => Ok(()),
        b'N' => Err(ProbeError::rejected(
            Reason::TlsRefusedByServer,
            "the server does not accept TLS connections but the URL says sslmode=require (or \
             verify-*): enable ssl on the server or change sslmode",
        )),
        _ => Err(ProbeError::rejected(
            Reason::Protocol,
            "the server does not speak the PostgreSQL protocol",
        )),
    }
}

fn postgres(
    conn: &mut Conn,
    user: Option<&str>,
    password: Option<&Secret>,
    database: Option<&str>,
) -> Result<(), ProbeError> {
    let explicit_user = user.is_some();
    let fallback_user;
    let user = match user {
        Some(u) => u,
        None => {
            fallback_user = std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".into());
            &fallback_user
        }
    };
    let database = database.unwrap_or(user);
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for (k, v) in [
        ("user", user),
        ("database", database),
        ("application_name", "hangar-probe"),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    startup.extend_from_slice(&body);
    conn.send(&startup)?;

    let mut scram: Option<scram::Client> = None;
    let mut authenticated = false;
    loop {
        let (tag, body) = pg_read(conn)?;
        match tag {
            b'R' => {
                if body.len() < 4 {
                    return Err(ProbeError::rejected(
                        Reason::Protocol,
                        "malformed authentication request",
                    ));
                }
                let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                let data = &body[4..];
                if code == 0 {
                    authenticated = true;
                    continue;
                }
                let Some(pw) = password else {
                    // Without a password: the server is up and asks for credentials, like
                    // pg_isready's notion of "accepting connections".
                    let _ = conn.send(&pg_msg(b'X', &[]));
                    return Ok(());
                };
                match code {
                    3 => {
                        let mut m = pw.expose().as_bytes().to_vec();
                        m.push(0);
                        conn.send(&pg_msg(b'p', &m))?;
                    }
                    5 => {
                        if data.len() < 4 {
                            return Err(ProbeError::rejected(
                                Reason::Protocol,
                                "malformed MD5 request",
                            ));
                        }
                        conn.send(&pg_msg(b'p', &md5_password(user, pw.expose(), &data[..4])))?;
                    }
                    10 => {
                        let mechs: Vec<&[u8]> =
                            data.split(|&b| b == 0).filter(|m| !m.is_empty()).collect();
                        if !mechs.iter().any(|m| *m == b"SCRAM-SHA-256") {
                            // Only SCRAM-SHA-256-PLUS (channel binding) needs TLS.
                            let _ = conn.send(&pg_msg(b'X', &[]));
                            return Ok(());
                        }
                        let client = scram::Client::new();
                        let first = client.client_first();
                        let mut m = b"SCRAM-SHA-256\0".to_vec();
                        m.extend_from_slice(&(first.len() as u32).to_be_bytes());
                        m.extend_from_slice(first.as_bytes());
                        conn.send(&pg_msg(b'p', &m))?;
                        scram = Some(client);
                    }
                    11 => {
                        let client = scram.as_mut().ok_or_else(|| {
                            ProbeError::rejected(
                                Reason::Protocol,
                                "unexpected SASL continue message",
                            )
                        })?;
                        let server_first = String::from_utf8_lossy(data).into_owned();
                        let reply = client
                            .client_final(&server_first, pw.expose())
                            .map_err(|m| ProbeError::rejected(Reason::Auth, m))?;
                        conn.send(&pg_msg(b'p', reply.as_bytes()))?;
                    }
                    12 => {
                        let client = scram.as_ref().ok_or_else(|| {
                            ProbeError::rejected(Reason::Protocol, "unexpected SASL final message")
                        })?;
                        client
                            .verify_server_final(&String::from_utf8_lossy(data))
                            .map_err(|m| ProbeError::rejected(Reason::Auth, m))?;
                    }
                    _ => {
                        // Kerberos, GSSAPI, SSPI: the server is up; the probe cannot
                        // authenticate with those.
                        let _ = conn.send(&pg_msg(b'X', &[]));
                        return Ok(());
                    }
                }
            }
            b'E' => {
                let (code, msg) = pg_error_fields(&body);
                return match pg_classify(&code, &msg, explicit_user || password.is_some()) {
                    Some(e) => Err(e),
                    None => Ok(()),
                };
            }
            b'Z' if authenticated => {
                let _ = conn.send(&pg_msg(b'X', &[]));
                return Ok(());
            }
            // ParameterStatus, BackendKeyData, NoticeResponse, NegotiateProtocolVersion.
            b'S' | b'K' | b'N' | b'v' => {}
            _ => {
                return Err(ProbeError::rejected(
                    Reason::Protocol,
                    "the server does not speak the PostgreSQL protocol",
                ));
            }
        }
    }
}

/// A rejection by pg_hba.conf or an unknown role: SQLSTATE 28000 (invalid authorization
/// specification).
fn pg_hba_rejected(e: &ProbeError) -> bool {
    e.kind() == Kind::Rejected && matches!(e.reason(), Reason::Sqlstate(c) if c == "28000")
}

/// Classifies an ErrorResponse. `None` means "the server is up": without credentials of our
/// own, any answer but "not ready" counts as up, like `pg_isready`.
fn pg_classify(code: &str, msg: &str, has_credentials: bool) -> Option<ProbeError> {
    let detail = format!("{msg} (SQLSTATE {code})");
    let reason = Reason::Sqlstate(code.to_owned());
    Some(match code {
        "57P03" | "53300" | "57P01" | "57P02" | "53000" | "53200" => {
            ProbeError::not_ready(reason, detail)
        }
        _ if !has_credentials => return None,
        "28P01" => ProbeError::rejected(
            reason,
            format!(
                "{detail}: the password in the URL is wrong; fix it (percent-encode special characters)"
            ),
        ),
        "28000" => ProbeError::rejected(
            reason,
            format!(
                "{detail}: the role is unknown or pg_hba.conf has no entry for this client; fix the user \
             name in the URL or the server's pg_hba.conf"
            ),
        ),
        "3D000" => ProbeError::rejected(
            reason,
            format!("{detail}: create the database or fix its name in the URL"),
        ),
        _ => ProbeError::rejected(reason, detail),
    })
}

fn md5_password(user: &str, password: &str, salt: &[u8]) -> Vec<u8> {
    use md5::{Digest, Md5};
    let inner = hex(&Md5::digest(
        [password.as_bytes(), user.as_bytes()].concat(),
    ));
    let outer = hex(&Md5::digest([inner.as_bytes(), salt].concat()));
    let mut out = format!("md5{outer}").into_bytes();
    out.push(0);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

mod scram {
    //! SCRAM-SHA-256 client (RFC 5802 / RFC 7677) as PostgreSQL uses it: no channel
    //! binding (`n,,`), empty user name (the startup message carries it).
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    type HmacSha256 = Hmac<Sha256>;

    pub(super) struct Client {
        nonce: String,
        auth_message: Option<String>,
        server_key: Option<Vec<u8>>,
    }

    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    impl Client {
        pub(super) fn new() -> Self {
            let mut raw = [0u8; 18];
            if getrandom::fill(&mut raw).is_err() {
                // Extremely unlikely; fall back to time-derived bytes (the nonce only has to
                // be unique, the password is protected by the server's salt and iteration).
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
                    .to_le_bytes();
                raw[..16].copy_from_slice(&t);
            }
            Client {
                nonce: B64.encode(raw),
                auth_message: None,
                server_key: None,
            }
        }

        fn first_bare(&self) -> String {
            format!("n=,r={}", self.nonce)
        }

        pub(super) fn client_first(&self) -> String {
            format!("n,,{}", self.first_bare())
        }

        pub(super) fn client_final(
            &mut self,
            server_first: &str,
            password: &str,
        ) -> Result<String, String> {
            let mut nonce = None;
            let mut salt = None;
            let mut iters = None;
            for attr in server_first.split(',') {
                match attr.split_once('=') {
                    Some(("r", v)) => nonce = Some(v),
                    Some(("s", v)) => salt = Some(v),
                    Some(("i", v)) => iters = v.parse::<u32>().ok(),
                    _ => {}
                }
            }
            let (Some(nonce), Some(salt), Some(iters)) = (nonce, salt, iters) else {
                return Err("malformed SCRAM server-first message".into());
            };
            if !nonce.starts_with(&self.nonce) || iters == 0 {
                return Err("invalid SCRAM server-first message (nonce or iteration count)".into());
            }
            let salt = B64
                .decode(salt)
                .map_err(|_| "malformed SCRAM salt".to_owned())?;
            let mut salted = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iters, &mut salted);
            let client_key = hmac(&salted, b"Client Key");
            let stored_key = Sha256::digest(&client_key);
            let without_proof = format!("c=biws,r={nonce}");
            let auth_message = format!("{},{server_first},{without_proof}", self.first_bare());
            let signature = hmac(&stored_key, auth_message.as_bytes());
            let proof: Vec<u8> = client_key
                .iter()
                .zip(&signature)
                .map(|(a, b)| a ^ b)
                .collect();
            self.server_key = Some(hmac(&salted, b"Server Key"));
            self.auth_message = Some(auth_message);
            Ok(format!("{without_proof},p={}", B64.encode(proof)))
        }

        pub(super) fn verify_server_final(&self, server_final: &str) -> Result<(), String> {
            if let Some(e) = server_final.strip_prefix("e=") {
                return Err(format!("SCRAM authentication failed: {e}"));
            }
            let (Some(key), Some(msg)) = (&self.server_key, &self.auth_message) else {
                return Err("unexpected SCRAM server-final message".into());
            };
            let expected = B64.encode(hmac(key, msg.as_bytes()));
            match server_final.strip_prefix("v=") {
                Some(v) if v == expected => Ok(()),
                _ => Err(
                    "the server's SCRAM signature is wrong: this is not the server that \
                          holds the password (or a proxy tampered with the exchange)"
                        .into(),
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB

fn my_read(conn: &mut Conn) -> Result<(u8, Vec<u8>), ProbeError> {
    let mut head = [0u8; 4];
    conn.recv_exact(&mut head)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut body = vec![0u8; len];
    conn.recv_exact(&mut body)?;
    Ok((head[3], body))
}

fn my_write(conn: &mut Conn, seq: u8, body: &[u8]) -> Result<(), ProbeError> {
    let len = (body.len() as u32).to_le_bytes();
    let mut p = vec![len[0], len[1], len[2], seq];
    p.extend_from_slice(body);
    conn.send(&p)
}

/// MySQL's ER_SECURE_TRANSPORT_REQUIRED: the server takes TLS connections only.
const MY_SECURE_TRANSPORT_REQUIRED: u16 = 3159;

/// The outcome of an ERR packet in answer to the login. MySQL refuses a plain login with 3159
/// when it requires TLS (`require_secure_transport`) and the probe could not use TLS (a unix
/// socket, or a server that does not offer it there): the server is up, so that counts as
/// ready.
fn my_login_refused(body: &[u8]) -> Result<(), ProbeError> {
    if my_error_code(body) == MY_SECURE_TRANSPORT_REQUIRED {
        return Ok(());
    }
    Err(my_error(body))
}

fn my_error_code(body: &[u8]) -> u16 {
    if body.len() >= 3 {
        u16::from_le_bytes([body[1], body[2]])
    } else {
        0
    }
}

fn my_error(body: &[u8]) -> ProbeError {
    let code = my_error_code(body);
    let mut rest = body.get(3..).unwrap_or_default();
    if rest.first() == Some(&b'#') && rest.len() >= 6 {
        rest = &rest[6..];
    }
    let msg = String::from_utf8_lossy(rest);
    let detail = format!("{msg} (error {code})");
    let reason = Reason::Mysql(code);
    match code {
        1045 => ProbeError::rejected(
            reason,
            format!("{detail}: fix the user name or password in the URL"),
        ),
        1044 | 1049 => ProbeError::rejected(
            reason,
            format!(
                "{detail}: create the database or fix its name in the URL, and grant the user access"
            ),
        ),
        1129 | 1130 | 1251 | 1524 => ProbeError::rejected(reason, detail),
        _ => ProbeError::not_ready(reason, detail),
    }
}

fn native_password(password: &str, nonce: &[u8]) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password.as_bytes());
    let h2 = Sha1::digest(h1);
    let h3 = Sha1::digest([nonce, h2.as_slice()].concat());
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

fn caching_sha2_password(password: &str, nonce: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha256::digest(password.as_bytes());
    let h2 = Sha256::digest(h1);
    let h3 = Sha256::digest([h2.as_slice(), nonce].concat());
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

fn cstr(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Logs in over TLS when the server offers it and `host` (TCP) is known, as mysqlclient's
/// default `ssl_mode=PREFERRED` does (without a certificate check, like it).
fn mysql(
    mut conn: Conn,
    host: Option<&str>,
    user: Option<&str>,
    password: Option<&Secret>,
    database: Option<&str>,
) -> Result<(), ProbeError> {
    let not_mysql = || {
        ProbeError::rejected(
            Reason::Protocol,
            "the server does not speak the MySQL protocol",
        )
    };
    let (seq, hello) = my_read(&mut conn)?;
    match hello.first() {
        Some(0xff) => return Err(my_error(&hello)),
        Some(10) => {}
        _ => return Err(not_mysql()),
    }
    // Protocol::HandshakeV10.
    let (_version, rest) = cstr(&hello[1..]);
    if rest.len() < 4 + 8 + 1 + 2 {
        return Err(not_mysql());
    }
    let mut nonce = rest[4..12].to_vec();
    let caps_low = u16::from_le_bytes([rest[13], rest[14]]);
    let mut caps = u32::from(caps_low);
    let mut plugin = b"mysql_native_password".to_vec();
    if rest.len() >= 15 + 1 + 2 + 2 + 1 + 10 {
        let caps_high = u16::from_le_bytes([rest[18], rest[19]]);
        caps |= u32::from(caps_high) << 16;
        let auth_len = rest[20] as usize;
        let tail = &rest[31..];
        let part2 = auth_len.saturating_sub(8).max(13).min(tail.len());
        let p2 = &tail[..part2];
        nonce.extend_from_slice(p2.strip_suffix(&[0]).unwrap_or(p2));
        let (name, _) = cstr(&tail[part2..]);
        if !name.is_empty() {
            plugin = name.to_vec();
        }
    }
    let Some(user) = user else {
        // No user to log in with: the greeting shows the server accepts connections.
        return Ok(());
    };
    const CLIENT_LONG_PASSWORD: u32 = 1;
    const CLIENT_CONNECT_WITH_DB: u32 = 8;
    const CLIENT_PROTOCOL_41: u32 = 0x200;
    const CLIENT_TRANSACTIONS: u32 = 0x2000;
    const CLIENT_SSL: u32 = 0x800;
    const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
    const CLIENT_PLUGIN_AUTH: u32 = 0x80000;
    if caps & CLIENT_PROTOCOL_41 == 0 {
        return Err(ProbeError::rejected(
            Reason::Unsupported,
            "the server is too old (no protocol 4.1 support)",
        ));
    }
    let pw = password.map(Secret::expose).unwrap_or("");
    let (auth, plugin_name) = if plugin == b"caching_sha2_password" {
        (caching_sha2_password(pw, &nonce), "caching_sha2_password")
    } else {
        (native_password(pw, &nonce), "mysql_native_password")
    };
    let mut flags = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | (caps & CLIENT_PLUGIN_AUTH);
    if database.is_some() {
        flags |= CLIENT_CONNECT_WITH_DB;
    }
    let mut seq = seq.wrapping_add(1);
    let mut resp = Vec::new();
    resp.extend_from_slice(&flags.to_le_bytes());
    resp.extend_from_slice(&(16u32 << 20).to_le_bytes());
    resp.push(45); // utf8mb4_general_ci
    resp.extend_from_slice(&[0u8; 23]);
    let over_tls = host.is_some() && caps & CLIENT_SSL != 0;
    if let Some(host) = host.filter(|_| over_tls) {
        // SSLRequest: the fixed part of the response with CLIENT_SSL, then the handshake;
        // the full response follows over TLS with the next sequence number.
        resp[..4].copy_from_slice(&(flags | CLIENT_SSL).to_le_bytes());
        my_write(&mut conn, seq, &resp)?;
        conn = conn.into_tls(host, &TlsOptions::unverified())?;
        seq = seq.wrapping_add(1);
    }
    resp.extend_from_slice(user.as_bytes());
    resp.push(0);
    resp.push(auth.len() as u8);
    resp.extend_from_slice(&auth);
    if let Some(db) = database {
        resp.extend_from_slice(db.as_bytes());
        resp.push(0);
    }
    if caps & CLIENT_PLUGIN_AUTH != 0 {
        resp.extend_from_slice(plugin_name.as_bytes());
        resp.push(0);
    }
    my_write(&mut conn, seq, &resp)?;
    loop {
        let (s, reply) = my_read(&mut conn)?;
        seq = s.wrapping_add(1);
        match reply.first() {
            Some(0x00) => {
                // COM_QUIT, so the server logs a normal disconnect.
                let _ = my_write(&mut conn, 0, &[0x01]);
                return Ok(());
            }
            Some(0xff) => return my_login_refused(&reply),
            Some(0xfe) => {
                // AuthSwitchRequest.
                let (name, data) = cstr(&reply[1..]);
                let data = data.strip_suffix(&[0]).unwrap_or(data);
                let auth = match name {
                    b"mysql_native_password" => native_password(pw, data),
                    b"caching_sha2_password" => caching_sha2_password(pw, data),
                    _ => {
                        // A plugin the probe does not implement (e.g. ed25519, gssapi): the
                        // server is up and asked for credentials.
                        return Ok(());
                    }
                };
                my_write(&mut conn, seq, &auth)?;
            }
            Some(0x01) => match reply.get(1) {
                // caching_sha2_password: fast authentication succeeded, OK follows.
                Some(3) => {}
                // Full authentication: over TLS the password goes as it is, and the server's
                // answer follows; without TLS it needs RSA: the server is up, the password
                // is not checked.
                Some(4) if over_tls => {
                    let mut m = pw.as_bytes().to_vec();
                    m.push(0);
                    my_write(&mut conn, seq, &m)?;
                }
                Some(4) => return Ok(()),
                _ => return Ok(()),
            },
            _ => return Err(not_mysql()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

fn resp_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn redis_error(line: &str) -> ProbeError {
    let Some(err) = line.strip_prefix('-') else {
        return ProbeError::rejected(
            Reason::Protocol,
            format!(
                "unexpected reply {:?}: not a Redis server",
                line.chars().take(40).collect::<String>()
            ),
        );
    };
    let kind = err.split_whitespace().next().unwrap_or("");
    let reason = Reason::Redis(kind.to_owned());
    match kind {
        "WRONGPASS" | "NOAUTH" | "NOPERM" => ProbeError::rejected(
            reason,
            format!("{err}: fix the user name or password in the broker URL"),
        ),
        "ERR" if err.contains("AUTH") || err.contains("password") => ProbeError::rejected(
            reason,
            format!("{err}: fix the credentials in the broker URL"),
        ),
        _ => ProbeError::not_ready(reason, err),
    }
}

fn redis(
    conn: &mut Conn,
    username: Option<&str>,
    password: Option<&Secret>,
) -> Result<(), ProbeError> {
    let mut out = Vec::new();
    if let Some(pw) = password {
        match username {
            Some(u) => out.extend(resp_command(&["AUTH", u, pw.expose()])),
            None => out.extend(resp_command(&["AUTH", pw.expose()])),
        }
    }
    out.extend(resp_command(&["PING"]));
    conn.send(&out)?;
    if password.is_some() {
        let line = conn.recv_line()?;
        if line != "+OK" {
            return Err(redis_error(&line));
        }
    }
    let line = conn.recv_line()?;
    if line == "+PONG" {
        let _ = conn.send(&resp_command(&["QUIT"]));
        return Ok(());
    }
    Err(redis_error(&line))
}

// ---------------------------------------------------------------------------------------------
// AMQP 0-9-1

/// Reads one AMQP frame: (type, channel, payload). Heartbeats are skipped.
fn amqp_frame(conn: &mut Conn) -> Result<(u8, Vec<u8>), ProbeError> {
    loop {
        let mut head = [0u8; 7];
        conn.recv_exact(&mut head)?;
        if &head[..4] == b"AMQP" {
            let mut v = [0u8; 1];
            let _ = conn.recv_exact(&mut v);
            return Err(ProbeError::rejected(
                Reason::Protocol,
                format!(
                    "protocol mismatch: the server speaks AMQP {}-{}-{}, not 0-9-1",
                    head[5], head[6], v[0]
                ),
            ));
        }
        let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]) as usize;
        if !matches!(head[0], 1..=4 | 8) || size > 1 << 20 {
            return Err(ProbeError::rejected(
                Reason::Protocol,
                "protocol mismatch: the server does not speak AMQP 0-9-1",
            ));
        }
        let mut payload = vec![0u8; size + 1];
        conn.recv_exact(&mut payload)?;
        if payload[size] != 0xCE {
            return Err(ProbeError::rejected(
                Reason::Protocol,
                "protocol mismatch: bad AMQP frame end",
            ));
        }
        payload.truncate(size);
        if head[0] == 8 {
            continue;
        }
        return Ok((head[0], payload));
    }
}

fn amqp_send_method(
    conn: &mut Conn,
    class: u16,
    method: u16,
    args: &[u8],
) -> Result<(), ProbeError> {
    let mut payload = Vec::with_capacity(args.len() + 4);
    payload.extend_from_slice(&class.to_be_bytes());
    payload.extend_from_slice(&method.to_be_bytes());
    payload.extend_from_slice(args);
    let mut frame = vec![1u8, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame.push(0xCE);
    conn.send(&frame)
}

fn shortstr(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

fn longstr(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// (class, method, arguments) of a method frame on channel 0.
fn amqp_method(frame: &(u8, Vec<u8>)) -> Option<(u16, u16, &[u8])> {
    let (kind, p) = frame;
    (*kind == 1 && p.len() >= 4).then(|| {
        (
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
            &p[4..],
        )
    })
}

/// The reply code and text of a Connection.Close.
fn amqp_close_reason(args: &[u8]) -> (u16, String) {
    let code = args
        .get(..2)
        .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
    let len = args.get(2).copied().unwrap_or(0) as usize;
    let text = args
        .get(3..3 + len)
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    (code, text.into_owned())
}

fn amqp_refused(args: &[u8]) -> ProbeError {
    let (code, text) = amqp_close_reason(args);
    let reason = Reason::Amqp(code);
    match code {
        // ACCESS_REFUSED, NOT_ALLOWED (vhost), INVALID_PATH.
        403 | 530 | 402 => ProbeError::rejected(
            reason,
            format!(
                "{text} ({code}): fix the user name, password or virtual host in the broker URL"
            ),
        ),
        _ => ProbeError::not_ready(reason, format!("{text} ({code})")),
    }
}

fn amqp(conn: &mut Conn, login: Option<(&str, &str, &str)>) -> Result<(), ProbeError> {
    conn.send(b"AMQP\x00\x00\x09\x01")?;
    let start = amqp_frame(conn)?;
    match amqp_method(&start) {
        Some((10, 10, _)) => {}
        _ => {
            return Err(ProbeError::rejected(
                Reason::Protocol,
                "protocol mismatch: expected AMQP Connection.Start",
            ));
        }
    }
    let Some((user, password, vhost)) = login else {
        // No credentials: Connection.Start shows the broker is up.
        return Ok(());
    };
    // Connection.Start-Ok with PLAIN; ask for a Connection.Close (not a hang-up) when the
    // login fails, so a wrong password is reported as such.
    let mut props = Vec::new();
    shortstr(&mut props, "product");
    props.push(b'S');
    longstr(&mut props, b"hangar-probe");
    shortstr(&mut props, "capabilities");
    props.push(b'F');
    let mut caps = Vec::new();
    shortstr(&mut caps, "authentication_failure_close");
    caps.push(b't');
    caps.push(1);
    longstr(&mut props, &caps);
    let mut args = Vec::new();
    longstr(&mut args, &props);
    shortstr(&mut args, "PLAIN");
    longstr(&mut args, format!("\0{user}\0{password}").as_bytes());
    shortstr(&mut args, "en_US");
    amqp_send_method(conn, 10, 11, &args)?;
    loop {
        let frame = amqp_frame(conn)?;
        match amqp_method(&frame) {
            // Connection.Tune → Tune-Ok (no heartbeats) + Open(vhost).
            Some((10, 30, a)) if a.len() >= 8 => {
                let mut ok = a[..6].to_vec();
                ok.extend_from_slice(&[0, 0]);
                amqp_send_method(conn, 10, 31, &ok)?;
                let mut open = Vec::new();
                shortstr(&mut open, vhost);
                shortstr(&mut open, "");
                open.push(0);
                amqp_send_method(conn, 10, 40, &open)?;
            }
            // Connection.Open-Ok → Close, then wait for Close-Ok.
            Some((10, 41, _)) => {
                let mut close = 200u16.to_be_bytes().to_vec();
                shortstr(&mut close, "readiness probe done");
                close.extend_from_slice(&[0, 0, 0, 0]);
                amqp_send_method(conn, 10, 50, &close)?;
                loop {
                    let f = amqp_frame(conn)?;
                    if let Some((10, 51, _)) = amqp_method(&f) {
                        return Ok(());
                    }
                }
            }
            // Connection.Close from the server: refused.
            Some((10, 50, a)) => {
                let err = amqp_refused(a);
                let _ = amqp_send_method(conn, 10, 51, &[]);
                return Err(err);
            }
            _ => {
                return Err(ProbeError::rejected(
                    Reason::Protocol,
                    "unexpected AMQP frame during the handshake",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite

fn sqlite(path: &Path) -> Result<(), ProbeError> {
    use nix::unistd::{AccessFlags, access};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    if !dir.is_dir() {
        return Err(ProbeError::not_ready(
            Reason::Sqlite,
            format!(
                "the directory {} of SQLite database {} does not exist: create it or mount the volume",
                dir.display(),
                path.display()
            ),
        ));
    }
    if access(&dir, AccessFlags::W_OK | AccessFlags::X_OK).is_err() {
        return Err(ProbeError::not_ready(
            Reason::Sqlite,
            format!(
                "the directory {} of SQLite database {} is not writable by this user: fix its \
             ownership or permissions",
                dir.display(),
                path.display()
            ),
        ));
    }
    if path.exists() && access(path, AccessFlags::R_OK | AccessFlags::W_OK).is_err() {
        return Err(ProbeError::not_ready(
            Reason::Sqlite,
            format!(
                "SQLite database {} is not writable by this user: fix its ownership or permissions",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_packet(code: u16, msg: &str) -> Vec<u8> {
        let mut b = vec![0xff];
        b.extend_from_slice(&code.to_le_bytes());
        b.extend_from_slice(b"#28000");
        b.extend_from_slice(msg.as_bytes());
        b
    }

    #[test]
    fn mysql_login_refusals() {
        let tls = err_packet(
            3159,
            "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
        );
        assert!(
            my_login_refused(&tls).is_ok(),
            "TLS required: the server is up"
        );
        match my_login_refused(&err_packet(1045, "Access denied for user 'a'@'h'")) {
            Err(ProbeError::Rejected(m)) => assert!(m.contains("(error 1045)"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            my_login_refused(&err_packet(1040, "Too many connections")),
            Err(ProbeError::NotReady(_))
        ));
    }
}
