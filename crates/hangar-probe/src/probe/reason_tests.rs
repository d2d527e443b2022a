//! The typed reasons the protocol code gives, and the PostgreSQL `sslmode=prefer` fallback
//! that is decided on them, against a scripted server on loopback.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

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

#[test]
fn other_protocols_carry_their_codes() {
    let e = redis_error("-LOADING Redis is loading the dataset in memory");
    assert_eq!(e.kind(), Kind::NotReady);
    assert_eq!(e.reason(), &Reason::Redis("LOADING".into()));
    let e = redis_error("-WRONGPASS invalid username-password pair");
    assert_eq!(e.kind(), Kind::Rejected);
    assert_eq!(e.reason(), &Reason::Redis("WRONGPASS".into()));
    assert_eq!(redis_error("HTTP/1.1 400").reason(), &Reason::Protocol);

    let mut close = 403u16.to_be_bytes().to_vec();
    close.push(14);
    close.extend_from_slice(b"ACCESS_REFUSED");
    let e = amqp_refused(&close);
    assert_eq!((e.kind(), e.reason()), (Kind::Rejected, &Reason::Amqp(403)));
    assert_eq!(
        e.message(),
        "ACCESS_REFUSED (403): fix the user name, password or virtual host in the broker URL"
    );

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
