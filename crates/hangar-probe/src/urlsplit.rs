//! URLs split like Python's `urllib.parse.urlsplit`, which kombu and Airflow's entrypoint use
//! for broker URLs: the netloc ends at the first `/`, `?` or `#`, the user info at its last
//! `@`, the host is lower-cased and loses IPv6 brackets, and a port must be a number up to
//! 65535. What the parts mean for a broker is [`crate::target`]'s business.

use crate::dburl::parse_qsl;

/// A URL split into its parts; user name and password are still percent-encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SplitUrl {
    /// Lower-cased.
    pub(crate) scheme: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// Lower-cased, without IPv6 brackets; `None` when empty.
    pub(crate) hostname: Option<String>,
    /// `None` when absent or 0.
    pub(crate) port: Option<u16>,
    /// The path (from the first `/` after the netloc to `?` or `#`), still encoded.
    pub(crate) path: String,
    /// The query's `key=value` pairs, decoded.
    pub(crate) query: Vec<(String, String)>,
}

/// Why a URL does not split: each message says what is wrong and what to write instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// No scheme, or one that is not a letter followed by letters, digits, `+`, `-` or `.`.
    #[error("expected `scheme://[user:password@]host[:port][/path]`, e.g. `redis://redis:6379/0`")]
    Syntax,
    /// A `[` without a `]` or the other way round.
    #[error("an IPv6 host needs both `[` and `]`")]
    UnbalancedBrackets,
    /// What is inside `[...]` is neither an IPv6 address nor an `IPvFuture`.
    #[error("the host in `[...]` is not an IPv6 address")]
    NotIpv6,
    /// The port has characters other than digits.
    #[error("the port is not a number; write e.g. `host:6379`")]
    PortNotNumber,
    /// The port is above 65535.
    #[error("the port is out of range 0-65535")]
    PortOutOfRange,
}

impl SplitUrl {
    /// The value of the first query parameter named `key`.
    pub(crate) fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Splits `raw` as `urlsplit` does, with its errors for brackets and ports.
    pub(crate) fn parse(raw: &str) -> Result<SplitUrl, SplitError> {
        // Like urlsplit: leading C0 controls and spaces go, tabs and newlines anywhere too.
        let url: String = raw
            .trim_start_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(SplitError::Syntax);
        };
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid_scheme {
            return Err(SplitError::Syntax);
        }
        let mut out = SplitUrl {
            scheme: scheme.to_ascii_lowercase(),
            ..SplitUrl::default()
        };
        let Some(after) = rest.strip_prefix("//") else {
            return Ok(out);
        };
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let netloc = &after[..end];
        let tail = &after[end..];
        if netloc.contains('[') != netloc.contains(']') {
            return Err(SplitError::UnbalancedBrackets);
        }
        if let Some((_, b)) = netloc.split_once('[') {
            let inside = b.split_once(']').map_or(b, |x| x.0);
            let addr = inside.split_once('%').map_or(inside, |x| x.0);
            let ok = if let Some(future) = inside.strip_prefix('v') {
                future.split_once('.').is_some_and(|(hex, rest)| {
                    !hex.is_empty()
                        && hex.bytes().all(|c| c.is_ascii_hexdigit())
                        && !rest.is_empty()
                })
            } else {
                addr.parse::<std::net::Ipv6Addr>().is_ok()
            };
            if !ok {
                return Err(SplitError::NotIpv6);
            }
        }
        out.path = tail.split(['?', '#']).next().unwrap_or("").to_owned();
        if let Some(q) = tail
            .split('#')
            .next()
            .and_then(|t| t.split_once('?'))
            .map(|x| x.1)
        {
            out.query = parse_qsl(q);
        }
        let hostinfo = match netloc.rsplit_once('@') {
            Some((userinfo, hp)) => {
                match userinfo.split_once(':') {
                    Some((u, p)) => {
                        out.username = Some(u.to_owned());
                        out.password = Some(p.to_owned());
                    }
                    None => out.username = Some(userinfo.to_owned()),
                }
                hp
            }
            None => netloc,
        };
        // urlsplit's `_hostinfo`: a bracketed host may follow anything; the port is what
        // follows the first `:` after the `]`.
        let (host, port_text) = match hostinfo.split_once('[') {
            Some((_, bracketed)) => {
                let (h, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
                (h, after.split_once(':').map(|x| x.1))
            }
            None => match hostinfo.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostinfo, None),
            },
        };
        out.hostname = Some(host.to_lowercase()).filter(|h| !h.is_empty());
        if let Some(p) = port_text.filter(|p| !p.is_empty()) {
            if !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SplitError::PortNotNumber);
            }
            let n = p
                .parse::<u32>()
                .ok()
                .filter(|&n| n <= 65535)
                .ok_or(SplitError::PortOutOfRange)?;
            // Port 0 counts as no port, as in Airflow's entrypoint (`.port or ''`).
            out.port = u16::try_from(n).ok().filter(|&n| n != 0);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> SplitUrl {
        SplitUrl::parse(s).unwrap()
    }

    #[test]
    fn parts_as_urlsplit_gives_them() {
        let u = split("redis://User:p%40ss@Redis.Example:6380/0?ssl_cert_reqs=none#frag");
        assert_eq!(
            u,
            SplitUrl {
                scheme: "redis".into(),
                username: Some("User".into()),
                password: Some("p%40ss".into()),
                hostname: Some("redis.example".into()),
                port: Some(6380),
                path: "/0".into(),
                query: vec![("ssl_cert_reqs".into(), "none".into())],
            }
        );
        assert_eq!(u.query_value("ssl_cert_reqs"), Some("none"));
        assert_eq!(u.query_value("other"), None);

        let u = split("amqp://u:p@ss@h//");
        assert_eq!(
            (u.username.as_deref(), u.password.as_deref()),
            (Some("u"), Some("p@ss")),
            "the user info ends at the last `@`"
        );
        assert_eq!((u.hostname.as_deref(), u.path.as_str()), (Some("h"), "//"));

        let u = split("redis://h?x=1");
        assert_eq!((u.hostname.as_deref(), u.path.as_str()), (Some("h"), ""));
        assert_eq!(u.query_value("x"), Some("1"));
        assert_eq!(split("redis://h#a/b").path, "");
        assert_eq!(split("redis://h:").port, None);
        assert_eq!(split("redis:foo").hostname, None);
    }

    #[test]
    fn controls_and_port_zero() {
        let u = split(" \tred\nis://H:0/1");
        assert_eq!(u.scheme, "redis");
        assert_eq!(u.hostname.as_deref(), Some("h"));
        assert_eq!(u.port, None, "port 0 counts as no port");
        assert_eq!(u.path, "/1");
    }

    #[test]
    fn ipv6_hosts() {
        let u = split("rediss://[::1]:6379");
        assert_eq!((u.hostname.as_deref(), u.port), (Some("::1"), Some(6379)));
        assert_eq!(
            split("redis://[FE80::1%25eth0]/").hostname.as_deref(),
            Some("fe80::1%25eth0")
        );
    }

    #[test]
    fn syntax_errors() {
        for (url, err) in [
            ("redis//h", SplitError::Syntax),
            ("1redis://h", SplitError::Syntax),
            ("redis://[::1/", SplitError::UnbalancedBrackets),
            ("redis://[zz]/", SplitError::NotIpv6),
            ("redis://h:6x", SplitError::PortNotNumber),
            ("redis://h:70000", SplitError::PortOutOfRange),
        ] {
            assert_eq!(SplitUrl::parse(url), Err(err), "{url}");
        }
    }
}
