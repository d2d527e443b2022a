//! PostgreSQL: the startup exchange, the `SSLRequest` TLS upgrade and the `sslmode=prefer`
//! fallback, password authentication (cleartext, MD5, SCRAM-SHA-256) and what an
//! `ErrorResponse` means for readiness.

use std::time::Instant;

use super::conn::Conn;
use super::{Kind, ProbeError, Reason, Row};
use crate::target::{Endpoint, PgTls, Secret};
use crate::tls::TlsOptions;

/// Who a PostgreSQL attempt logs in as.
#[derive(Clone, Copy)]
pub(super) struct Login<'a> {
    /// The role; `None` falls back to `$PGUSER`, `$USER` or `postgres`.
    pub(super) user: Option<&'a str>,
    /// Without one, an authentication request already shows the server is up.
    pub(super) password: Option<&'a Secret>,
    /// Defaults to the role's name.
    pub(super) database: Option<&'a str>,
}

/// One PostgreSQL attempt at `endpoint` as `login`, within `deadline`; every failure starts
/// with `what`, the target's description.
pub(super) fn probe(
    endpoint: &Endpoint,
    login: &Login<'_>,
    tls: PgTls,
    tls_options: &TlsOptions,
    deadline: Instant,
    what: &str,
) -> Result<(), ProbeError> {
    session(endpoint, tls, tls_options, deadline, what, &|conn| {
        startup(conn, login, Mode::Probe)
    })
}

/// Logs in as `login` all the way (a password is needed when the server asks for one) and
/// runs `sql` as a simple query: its rows (every column as text, `None` for NULL), or `None`
/// when a table it reads does not exist (SQLSTATE 42P01).
pub(super) fn query_rows(
    endpoint: &Endpoint,
    login: &Login<'_>,
    tls: (PgTls, &TlsOptions),
    deadline: Instant,
    what: &str,
    sql: &str,
) -> Result<Option<Vec<Row>>, ProbeError> {
    session(endpoint, tls.0, tls.1, deadline, what, &|conn| {
        startup(conn, login, Mode::Login)?;
        simple_query(conn, sql)
    })
}

/// Opens a connection (TLS as `tls` says) and runs `exchange` over it; with `sslmode=prefer`,
/// a plain connection that pg_hba.conf refuses is tried again over TLS, as libpq does.
fn session<T>(
    endpoint: &Endpoint,
    tls: PgTls,
    tls_options: &TlsOptions,
    deadline: Instant,
    what: &str,
    exchange: &dyn Fn(&mut Conn) -> Result<T, ProbeError>,
) -> Result<T, ProbeError> {
    let attempt = |tls: PgTls| {
        let mut conn = Conn::open(endpoint, deadline, what)?;
        if tls == PgTls::Required
            && let Endpoint::Tcp { host, .. } = endpoint
        {
            pg_ssl_request(&mut conn).map_err(|e| e.with_context(what))?;
            conn = conn
                .into_tls(host, tls_options)
                .map_err(|e| e.with_context(what))?;
        }
        exchange(&mut conn).map_err(|e| e.with_context(what))
    };
    match attempt(tls) {
        // pg_hba.conf refused the plain connection (e.g. `hostssl` lines only): libpq's
        // default sslmode would have asked for TLS first, so do what it would.
        Err(plain) if tls == PgTls::Prefer && pg_hba_rejected(&plain) => {
            match attempt(PgTls::Required) {
                // No TLS either: the plain connection's rejection is the answer.
                Err(e) if e.reason() == &Reason::TlsRefusedByServer => Err(plain),
                res => res,
            }
        }
        res => res,
    }
}

/// How far the startup exchange goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Until the server shows it accepts connections (like `pg_isready` without credentials).
    Probe,
    /// Until logged in and ready for a query.
    Login,
}

/// A server that is up but that the probe cannot log in to, in [`Mode::Login`].
fn cannot_log_in(why: &str) -> ProbeError {
    ProbeError::rejected(
        Reason::Auth,
        format!("{why}, so the database cannot be read"),
    )
}

/// Runs one simple query and collects its rows.
fn simple_query(conn: &mut Conn, sql: &str) -> Result<Option<Vec<Row>>, ProbeError> {
    let mut q = sql.as_bytes().to_vec();
    q.push(0);
    conn.send(&pg_msg(b'Q', &q))?;
    let (mut rows, mut missing) = (Vec::new(), false);
    loop {
        let (tag, body) = pg_read(conn)?;
        match tag {
            b'D' => rows.push(data_row(&body)?),
            b'E' => {
                let (code, msg) = pg_error_fields(&body);
                if code == "42P01" {
                    missing = true;
                } else {
                    return Err(ProbeError::rejected(
                        Reason::Sqlstate(code.clone()),
                        format!("{msg} (SQLSTATE {code})"),
                    ));
                }
            }
            b'Z' => {
                let _ = conn.send(&pg_msg(b'X', &[]));
                return Ok((!missing).then_some(rows));
            }
            // RowDescription, CommandComplete, EmptyQueryResponse, notices, parameters.
            b'T' | b'C' | b'I' | b'N' | b'S' => {}
            _ => {
                return Err(ProbeError::rejected(
                    Reason::Protocol,
                    "the server does not speak the PostgreSQL protocol",
                ));
            }
        }
    }
}

/// The columns of a DataRow message, `None` for NULL.
fn data_row(body: &[u8]) -> Result<Row, ProbeError> {
    let malformed = || ProbeError::rejected(Reason::Protocol, "malformed DataRow message");
    let count = body
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(malformed)?;
    let mut rest = &body[2..];
    let mut row = Vec::with_capacity(count.into());
    for _ in 0..count {
        let len_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(malformed)?;
        rest = &rest[4..];
        let len = i32::from_be_bytes(len_bytes);
        if len < 0 {
            row.push(None);
            continue;
        }
        let value = rest.get(..len as usize).ok_or_else(malformed)?;
        row.push(Some(String::from_utf8_lossy(value).into_owned()));
        rest = &rest[len as usize..];
    }
    Ok(row)
}

pub(super) fn pg_msg(tag: u8, body: &[u8]) -> Vec<u8> {
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

/// The startup exchange, and authentication when `login` has a password (or, in
/// [`Mode::Login`], whenever the server asks).
fn startup(conn: &mut Conn, login: &Login<'_>, mode: Mode) -> Result<(), ProbeError> {
    let Login {
        user,
        password,
        database,
    } = *login;
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
                    let _ = conn.send(&pg_msg(b'X', &[]));
                    if mode == Mode::Login {
                        return Err(cannot_log_in(
                            "the server asks for a password and the URL has none",
                        ));
                    }
                    // Without a password: the server is up and asks for credentials, like
                    // pg_isready's notion of "accepting connections".
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
                            if mode == Mode::Login {
                                return Err(cannot_log_in(
                                    "the server offers only SCRAM with channel binding",
                                ));
                            }
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
                        if mode == Mode::Login {
                            return Err(cannot_log_in(&format!(
                                "the server asks for authentication method {code} (Kerberos, GSSAPI or SSPI)"
                            )));
                        }
                        return Ok(());
                    }
                }
            }
            b'E' => {
                let (code, msg) = pg_error_fields(&body);
                let strict = explicit_user || password.is_some() || mode == Mode::Login;
                return match pg_classify(&code, &msg, strict) {
                    Some(e) => Err(e),
                    None => Ok(()),
                };
            }
            b'Z' if authenticated => {
                // Logged in: a probe is done; a login goes on with a query.
                if mode == Mode::Probe {
                    let _ = conn.send(&pg_msg(b'X', &[]));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_row_gives_its_columns() {
        let row = |cols: &[Option<&str>]| {
            let mut b = (cols.len() as u16).to_be_bytes().to_vec();
            for c in cols {
                match c {
                    Some(v) => {
                        b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        b.extend_from_slice(v.as_bytes());
                    }
                    None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
            b
        };
        assert_eq!(
            data_row(&row(&[Some("29ce7909c52b"), None, Some("")])).unwrap(),
            vec![Some("29ce7909c52b".to_owned()), None, Some(String::new())]
        );
        assert_eq!(data_row(&row(&[])).unwrap(), Vec::<Option<String>>::new());
        assert!(data_row(&[0]).is_err(), "no column count");
        assert!(
            data_row(&[0, 1, 0, 0, 0, 9, b'a']).is_err(),
            "a value shorter than its length"
        );
        assert!(
            data_row(&[0, 2, 0, 0, 0, 1, b'a']).is_err(),
            "fewer columns than announced"
        );
    }

    #[test]
    fn postgres_error_responses_carry_their_sqlstate() {
        let e = pg_classify("57P03", "the database system is starting up", true).unwrap();
        assert_eq!(e.kind(), Kind::NotReady);
        assert_eq!(e.reason(), &Reason::Sqlstate("57P03".into()));
        assert_eq!(
            e.message(),
            "the database system is starting up (SQLSTATE 57P03)"
        );
        let e = pg_classify("28000", "no pg_hba.conf entry", true).unwrap();
        assert!(pg_hba_rejected(&e), "{e:?}");
        assert!(
            e.message()
                .starts_with("no pg_hba.conf entry (SQLSTATE 28000): the role")
        );
        let e = pg_classify("28P01", "password authentication failed", true).unwrap();
        assert_eq!(e.kind(), Kind::Rejected);
        assert!(!pg_hba_rejected(&e));
        // A message that merely mentions the code is not a pg_hba.conf rejection.
        let e = pg_classify("XX000", "saw (SQLSTATE 28000) earlier", true).unwrap();
        assert_eq!(e.reason(), &Reason::Sqlstate("XX000".into()));
        assert!(!pg_hba_rejected(&e));
        assert_eq!(
            pg_classify("28P01", "x", false),
            None,
            "up, like pg_isready"
        );
    }
}
