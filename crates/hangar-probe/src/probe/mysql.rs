//! MySQL/MariaDB: the server greeting, `HandshakeResponse41` with `mysql_native_password` or
//! `caching_sha2_password` (over TLS when offered), and what an ERR packet means for
//! readiness.

use super::conn::Conn;
use super::{ProbeError, Reason, Row};
use crate::target::Secret;
use crate::tls::TlsOptions;

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
fn my_login_refused(body: &[u8]) -> Result<Session, ProbeError> {
    if my_error_code(body) == MY_SECURE_TRANSPORT_REQUIRED {
        return Ok(Session::Up(
            "the server takes TLS connections only, and offers no TLS here",
        ));
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

/// Who a MySQL/MariaDB attempt logs in as, and where.
#[derive(Clone, Copy)]
pub(super) struct Login<'a> {
    /// The server's host name over TCP (for TLS), `None` over a unix socket.
    pub(super) host: Option<&'a str>,
    /// Without one, the greeting already shows the server is up.
    pub(super) user: Option<&'a str>,
    pub(super) password: Option<&'a Secret>,
    pub(super) database: Option<&'a str>,
}

/// How far a login went.
enum Session {
    /// Logged in: the connection is ready for a command.
    Open(Conn),
    /// The server is up, but the probe did not (or could not) complete the login: why.
    Up(&'static str),
}

/// One readiness attempt: the greeting and, with a user, the login.
pub(super) fn exchange(conn: Conn, login: &Login<'_>) -> Result<(), ProbeError> {
    if let Session::Open(mut conn) = open(conn, login)? {
        // COM_QUIT, so the server logs a normal disconnect.
        let _ = my_write(&mut conn, 0, &[0x01]);
    }
    Ok(())
}

/// Logs in all the way and runs `sql` (COM_QUERY, text protocol): its rows, or `None` when a
/// table it reads does not exist (error 1146).
pub(super) fn query_rows(
    conn: Conn,
    login: &Login<'_>,
    sql: &str,
) -> Result<Option<Vec<Row>>, ProbeError> {
    if login.user.is_none() {
        return Err(ProbeError::rejected(
            Reason::Auth,
            "the URL names no user, so the database cannot be read: add one",
        ));
    }
    let mut conn = match open(conn, login)? {
        Session::Open(conn) => conn,
        Session::Up(why) => {
            return Err(ProbeError::rejected(
                Reason::Auth,
                format!("{why}, so the database cannot be read"),
            ));
        }
    };
    // The session in UTC, as Airflow sets its own on connect: a DATETIME column (which holds
    // Airflow's UTC times without a zone) then reads the same as a TIMESTAMP one.
    let rows =
        com_query(&mut conn, "SET time_zone = '+00:00'").and_then(|_| com_query(&mut conn, sql));
    let _ = my_write(&mut conn, 0, &[0x01]);
    rows
}

/// One COM_QUERY and its answer.
fn com_query(conn: &mut Conn, sql: &str) -> Result<Option<Vec<Row>>, ProbeError> {
    let mut command = vec![0x03];
    command.extend_from_slice(sql.as_bytes());
    my_write(conn, 0, &command)?;
    result_set(conn)
}

/// MySQL's ER_NO_SUCH_TABLE.
const MY_NO_SUCH_TABLE: u16 = 1146;

/// Reads a text-protocol result set: column count, column definitions, EOF, rows, EOF.
fn result_set(conn: &mut Conn) -> Result<Option<Vec<Row>>, ProbeError> {
    let malformed = || ProbeError::rejected(Reason::Protocol, "malformed MySQL result set");
    let (_, first) = my_read(conn)?;
    let columns = match first.first() {
        Some(0xff) if my_error_code(&first) == MY_NO_SUCH_TABLE => return Ok(None),
        Some(0xff) => return Err(query_error(&first)),
        Some(0x00) => return Ok(Some(Vec::new())),
        _ => lenenc_int(&first).ok_or_else(malformed)?.0,
    };
    for _ in 0..columns {
        my_read(conn)?;
    }
    let (_, eof) = my_read(conn)?;
    if !is_eof(&eof) {
        return Err(malformed());
    }
    let mut rows = Vec::new();
    loop {
        let (_, packet) = my_read(conn)?;
        if is_eof(&packet) {
            return Ok(Some(rows));
        }
        if packet.first() == Some(&0xff) {
            return Err(query_error(&packet));
        }
        rows.push(text_row(&packet, columns).ok_or_else(malformed)?);
    }
}

/// An ERR packet in answer to a query: the server is up, the query is wrong for it.
fn query_error(body: &[u8]) -> ProbeError {
    let code = my_error_code(body);
    ProbeError::rejected(Reason::Mysql(code), my_error(body).message().to_owned())
}

/// An EOF packet: 0xfe and shorter than 9 bytes (a longer one starting 0xfe is a row).
fn is_eof(packet: &[u8]) -> bool {
    packet.first() == Some(&0xfe) && packet.len() < 9
}

/// A length-encoded integer and the bytes after it.
fn lenenc_int(data: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, rest) = data.split_first()?;
    let width = match first {
        0..=0xfa => return Some((u64::from(first), rest)),
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let bytes = rest.get(..width)?;
    let mut value = [0u8; 8];
    value[..width].copy_from_slice(bytes);
    Some((u64::from_le_bytes(value), &rest[width..]))
}

/// A text-protocol row: `columns` length-encoded strings, 0xfb for NULL.
fn text_row(mut data: &[u8], columns: u64) -> Option<Row> {
    let mut row = Vec::new();
    for _ in 0..columns {
        if let Some(rest) = data.strip_prefix(&[0xfb]) {
            row.push(None);
            data = rest;
            continue;
        }
        let (len, rest) = lenenc_int(data)?;
        let len = usize::try_from(len).ok()?;
        let value = rest.get(..len)?;
        row.push(Some(String::from_utf8_lossy(value).into_owned()));
        data = &rest[len..];
    }
    data.is_empty().then_some(row)
}

/// Reads the greeting and, with a user, logs in: over TLS when the server offers it and the
/// host (TCP) is known, as mysqlclient's default `ssl_mode=PREFERRED` does (without a
/// certificate check, like it).
fn open(mut conn: Conn, login: &Login<'_>) -> Result<Session, ProbeError> {
    let Login {
        host,
        user,
        password,
        database,
    } = *login;
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
        return Ok(Session::Up("no user was given"));
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
            Some(0x00) => return Ok(Session::Open(conn)),
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
                        return Ok(Session::Up(
                            "the server asks for an authentication plugin hangar does not speak \
                             (only mysql_native_password and caching_sha2_password)",
                        ));
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
                Some(4) => {
                    return Ok(Session::Up(
                        "caching_sha2_password asks for a full login, which needs TLS and the \
                         server offers none: enable TLS on the server",
                    ));
                }
                _ => return Err(not_mysql()),
            },
            _ => return Err(not_mysql()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Kind;

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
        match my_login_refused(&err_packet(1045, "Access denied for user 'a'@'h'")).err() {
            Some(ProbeError::Rejected(m)) => assert!(m.contains("(error 1045)"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            my_login_refused(&err_packet(1040, "Too many connections")).err(),
            Some(ProbeError::NotReady(_))
        ));
    }

    #[test]
    fn errors_carry_their_codes() {
        let mut err = vec![0xff];
        err.extend_from_slice(&1040u16.to_le_bytes());
        err.extend_from_slice(b"#08004Too many connections");
        let e = my_error(&err);
        assert_eq!(
            (e.kind(), e.reason()),
            (Kind::NotReady, &Reason::Mysql(1040))
        );
        assert_eq!(e.message(), "Too many connections (error 1040)");
    }

    #[test]
    fn length_encoded_integers() {
        assert_eq!(lenenc_int(&[7, 1]), Some((7, &[1u8][..])));
        assert_eq!(lenenc_int(&[0xfc, 0x34, 0x12]), Some((0x1234, &[][..])));
        assert_eq!(
            lenenc_int(&[0xfd, 1, 2, 3, 9]),
            Some((0x030201, &[9u8][..]))
        );
        assert_eq!(
            lenenc_int(&[0xfe, 1, 0, 0, 0, 0, 0, 0, 1]),
            Some((0x0100_0000_0000_0001, &[][..]))
        );
        assert_eq!(lenenc_int(&[0xfc, 1]), None, "truncated");
        assert_eq!(
            lenenc_int(&[0xff]),
            None,
            "0xff starts an ERR, not a number"
        );
        assert_eq!(lenenc_int(&[]), None);
    }

    #[test]
    fn text_rows_and_their_end() {
        let mut packet = vec![3, b'a', b'b', b'c', 0xfb, 0];
        assert_eq!(
            text_row(&packet, 3),
            Some(vec![Some("abc".to_owned()), None, Some(String::new())])
        );
        assert_eq!(
            text_row(&packet, 4),
            None,
            "fewer columns than the result set"
        );
        assert_eq!(text_row(&packet, 2), None, "bytes left over");
        packet = vec![9, b'x'];
        assert_eq!(
            text_row(&packet, 1),
            None,
            "a value shorter than its length"
        );
        assert!(is_eof(&[0xfe, 0, 0, 2, 0]));
        let mut long = vec![0xfe];
        long.extend_from_slice(&[0; 9]);
        assert!(
            !is_eof(&long),
            "a row whose first value is 8 bytes or longer"
        );
    }
}
