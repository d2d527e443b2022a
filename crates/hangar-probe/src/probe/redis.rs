//! Redis: `AUTH` when credentials are given, `PING` → `+PONG`, and what an error reply means
//! for readiness.

use super::conn::Conn;
use super::{ProbeError, Reason};
use crate::target::Secret;

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

/// `AUTH` when a password is given, then `PING`.
pub(super) fn exchange(
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
        let line = recv_line(conn)?;
        if line != "+OK" {
            return Err(redis_error(&line));
        }
    }
    let line = recv_line(conn)?;
    if line == "+PONG" {
        let _ = conn.send(&resp_command(&["QUIT"]));
        return Ok(());
    }
    Err(redis_error(&line))
}

/// Reads one RESP line up to `\r\n` (at most 64 KiB); a first byte that is not a RESP
/// type marker means the peer is not a Redis server.
fn recv_line(conn: &mut Conn) -> Result<String, ProbeError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > 65536 {
            return Err(ProbeError::rejected(
                Reason::Protocol,
                "reply line too long: not a Redis server",
            ));
        }
        conn.recv_exact(&mut byte)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Kind;

    #[test]
    fn error_replies_carry_their_first_word() {
        let e = redis_error("-LOADING Redis is loading the dataset in memory");
        assert_eq!(e.kind(), Kind::NotReady);
        assert_eq!(e.reason(), &Reason::Redis("LOADING".into()));
        let e = redis_error("-WRONGPASS invalid username-password pair");
        assert_eq!(e.kind(), Kind::Rejected);
        assert_eq!(e.reason(), &Reason::Redis("WRONGPASS".into()));
        assert_eq!(redis_error("HTTP/1.1 400").reason(), &Reason::Protocol);
    }
}
