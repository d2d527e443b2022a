//! `hangar health api-server|webserver`: one HTTP GET of the health endpoint; healthy when
//! it answers 200. Plain HTTP (the api-server behind a TLS-terminating proxy or Service, as
//! probes reach it), no client crate.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::HealthError;

/// The answer of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// True for HTTP 200.
    pub healthy: bool,
    /// One line for people: the status and the start of the body.
    pub message: String,
}

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    host: String,
    port: u16,
    path: String,
}

fn parse(url: &str) -> Result<Url, HealthError> {
    let bad = |problem: &str| HealthError::BadUrl {
        url: url.to_owned(),
        problem: problem.to_owned(),
    };
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        bad("only http:// URLs are checked: probe the api-server's plain port, not a TLS one")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| bad("the port is not a number from 1 to 65535"))?,
        ),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || authority.contains('@') {
        return Err(bad(
            "expected http://HOST[:PORT]/PATH with no user or password",
        ));
    }
    Ok(Url {
        host: host.to_owned(),
        port,
        path: path.to_owned(),
    })
}

/// GETs `url` within `timeout`. Not answering at all is an unhealthy answer, not an error.
///
/// # Errors
/// The URL cannot be used.
pub fn check(url: &str, timeout: Duration) -> Result<Answer, HealthError> {
    let u = parse(url)?;
    let deadline = Instant::now() + timeout;
    Ok(match get(&u, deadline) {
        Ok((status, body)) => Answer {
            healthy: status == 200,
            message: format!(
                "{url}: HTTP {status}{}",
                if body.is_empty() {
                    String::new()
                } else {
                    format!(": {}", body.chars().take(300).collect::<String>())
                }
            ),
        },
        Err(e) => Answer {
            healthy: false,
            message: format!("{url}: no answer: {e}"),
        },
    })
}

fn get(u: &Url, deadline: Instant) -> std::io::Result<(u16, String)> {
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let addr = (u.host.as_str(), u.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the host name has no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, left())?;
    s.set_write_timeout(Some(left()))?;
    let host = if u.host.contains(':') {
        format!("[{}]", u.host)
    } else {
        u.host.clone()
    };
    // One write: a request split over several segments can meet a server
    // that answers and closes after the first, which resets the connection.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: hangar-health\r\nAccept: \
         application/json\r\nConnection: close\r\n\r\n",
        u.path, u.port
    );
    s.write_all(request.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        s.set_read_timeout(Some(left()))?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() => return Err(e),
            Err(_) => break,
        }
        if buf.len() > 64 * 1024 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| std::io::Error::other("the answer is not HTTP"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().replace(['\r', '\n'], " "))
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls() {
        assert_eq!(
            parse("http://127.0.0.1:8080/api/v2/monitor/health").unwrap(),
            Url {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/api/v2/monitor/health".into()
            }
        );
        assert_eq!(parse("http://h").unwrap().port, 80);
        assert_eq!(parse("http://[::1]:9/x").unwrap().host, "::1");
        assert!(parse("https://h/").is_err());
        assert!(parse("http://u:p@h/").is_err());
        assert!(parse("http://h:port/").is_err());
    }

    fn serve(answer: &'static str) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            // Read the whole request before answering: closing with unread
            // bytes makes the kernel reset the connection.
            let mut req = Vec::new();
            let mut chunk = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&chunk[..n]),
                }
            }
            c.write_all(answer.as_bytes()).unwrap();
        });
        port
    }

    #[test]
    fn a_200_is_healthy_and_anything_else_is_not() {
        let port = serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        let a = check(
            &format!("http://127.0.0.1:{port}/h"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(a.healthy, "{a:?}");
        assert!(a.message.ends_with("HTTP 200: {}"), "{a:?}");
        let port = serve("HTTP/1.1 503 Service Unavailable\r\n\r\ndown");
        let a = check(
            &format!("http://127.0.0.1:{port}/h"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(!a.healthy);
        assert!(a.message.contains("HTTP 503: down"), "{a:?}");
        // Nothing listens.
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let a = check(
            &format!("http://127.0.0.1:{free}/h"),
            Duration::from_secs(2),
        )
        .unwrap();
        assert!(!a.healthy);
        assert!(a.message.contains("no answer"), "{a:?}");
    }
}
