//! AMQP 0-9-1 (RabbitMQ): the protocol header → `Connection.Start`, with credentials a PLAIN
//! login and `Connection.Open` of the virtual host, and what a `Connection.Close` means for
//! readiness.

use super::conn::Conn;
use super::{ProbeError, Reason};

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

/// The protocol header, then, with a `login` of (user, password, virtual host), the PLAIN
/// login, opening the virtual host and a polite close.
pub(super) fn exchange(
    conn: &mut Conn,
    login: Option<(&str, &str, &str)>,
) -> Result<(), ProbeError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Kind;

    #[test]
    fn a_close_carries_its_reply_code() {
        let mut close = 403u16.to_be_bytes().to_vec();
        close.push(14);
        close.extend_from_slice(b"ACCESS_REFUSED");
        let e = amqp_refused(&close);
        assert_eq!((e.kind(), e.reason()), (Kind::Rejected, &Reason::Amqp(403)));
        assert_eq!(
            e.message(),
            "ACCESS_REFUSED (403): fix the user name, password or virtual host in the broker URL"
        );
    }
}
