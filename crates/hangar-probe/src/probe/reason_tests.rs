//! The PostgreSQL `sslmode` handling of [`probe`] end to end, and the typed reasons the
//! `sslmode=prefer` fallback is decided on, against a scripted server on loopback.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use super::postgres::pg_msg;
use super::*;

fn pg_error(code: &str, msg: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in [(b'S', "FATAL"), (b'C', code), (b'M', msg)] {
        body.push(t);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    pg_msg(b'E', &body)
}

/// A server that answers each connection's first message (length-prefixed, like the startup
/// message and `SSLRequest`) with the next of `replies`, then hangs up. Returns the port and
/// a handle yielding the first messages received.
fn scripted_server(replies: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for reply in replies {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut msg = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut msg).unwrap();
            seen.push(msg);
            s.write_all(&reply).unwrap();
        }
        seen
    });
    (port, handle)
}

fn pg_target(port: u16) -> Target {
    Target::from_url(&format!(
        "postgresql://airflow:s3cret@127.0.0.1:{port}/airflow"
    ))
    .unwrap()
}

const SSL_REQUEST: [u8; 4] = [0x04, 0xd2, 0x16, 0x2f];

#[test]
fn prefer_retries_with_tls_after_a_pg_hba_rejection_and_keeps_it_without_tls() {
    let (port, server) = scripted_server(vec![
        pg_error(
            "28000",
            "no pg_hba.conf entry for host \"127.0.0.1\", no encryption",
        ),
        b"N".to_vec(),
    ]);
    let e = probe(&pg_target(port), Duration::from_secs(10)).unwrap_err();
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2, "a plain attempt, then an SSLRequest");
    assert_eq!(seen[1], SSL_REQUEST);
    assert_eq!(e.kind(), Kind::Rejected);
    assert_eq!(e.reason(), &Reason::Sqlstate("28000".into()), "{e}");
    assert_eq!(
        e.message(),
        format!(
            "PostgreSQL at 127.0.0.1:{port} as user airflow, database airflow: no pg_hba.conf entry for host \"127.0.0.1\", no \
             encryption (SQLSTATE 28000): the role is unknown or pg_hba.conf has no entry for \
             this client; fix the user name in the URL or the server's pg_hba.conf"
        )
    );
    assert!(!format!("{e} {e:?}").contains("s3cret"));
}

#[test]
fn prefer_does_not_retry_after_a_wrong_password() {
    let (port, server) = scripted_server(vec![pg_error(
        "28P01",
        "password authentication failed for user \"airflow\"",
    )]);
    let e = probe(&pg_target(port), Duration::from_secs(10)).unwrap_err();
    assert_eq!(server.join().unwrap().len(), 1);
    assert_eq!(e.reason(), &Reason::Sqlstate("28P01".into()));
    assert!(
        e.message().contains("the password in the URL is wrong"),
        "{e}"
    );
}

#[test]
fn require_against_a_server_without_tls_is_refused_by_the_server() {
    let (port, server) = scripted_server(vec![b"N".to_vec()]);
    let url = format!("postgresql://airflow:s3cret@127.0.0.1:{port}/airflow?sslmode=require");
    let e = probe(&Target::from_url(&url).unwrap(), Duration::from_secs(10)).unwrap_err();
    assert_eq!(server.join().unwrap(), [SSL_REQUEST]);
    assert_eq!(e.kind(), Kind::Rejected);
    assert_eq!(e.reason(), &Reason::TlsRefusedByServer);
    assert!(
        e.message().ends_with(
            ": the server does not accept TLS connections but the URL says sslmode=require (or \
             verify-*): enable ssl on the server or change sslmode"
        ),
        "{e}"
    );
}
