//! SQLAlchemy database URLs, parsed exactly like `sqlalchemy.engine.make_url`.
//!
//! SQLAlchemy does not follow RFC 3986. Its grammar (from `sqlalchemy/engine/url.py`) is:
//!
//! ```text
//! name://[username[:password]@][host or [ipv6host]][:port][/database][?query]
//! ```
//!
//! with these rules, which this module reproduces, including the odd corners:
//!
//! * `name` is one or more word characters or `+`; `backend+driver`.
//! * the username stops at the first `:` or `/`; the password runs to the **first** `@` after
//!   that `:` (it may contain `/`, `?` and spaces). Without a password, the **last** `@` before
//!   the first `:` or `/` ends the username.
//! * username, password and database are percent-decoded (`urllib.parse.unquote`); the host
//!   is not. An `[ipv6]` host loses its brackets.
//! * the port is any text Python's `int()` accepts (`" 5432 "`, `"+5432"`, `"5_432"`),
//!   checked for range only by the driver.
//! * the query is split with `urllib.parse.parse_qsl`: pairs without `=` or with an empty
//!   value are dropped, `+` means space, repeated keys are kept in order.
//! * the match is anchored at the start only: text after the query on a new line is ignored,
//!   like SQLAlchemy's `re.match`.
//!
//! Passwords never appear in `Debug`, `Display` of errors, or [`DbUrl::redacted`].

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// A database URL split into SQLAlchemy's components.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    /// `backend` or `backend+driver`, as written.
    pub drivername: String,
    /// Percent-decoded user name; `Some("")` for `scheme://@host`.
    pub username: Option<String>,
    /// Percent-decoded password. Never print it; see [`DbUrl::redacted`].
    pub password: Option<String>,
    /// Host as written (not decoded), without the brackets of an IPv6 literal.
    pub host: Option<String>,
    /// Port, when one is written.
    pub port: Option<u32>,
    /// Percent-decoded database (for sqlite: the file path, or `:memory:`).
    pub database: Option<String>,
    /// Query pairs in order, repeated keys kept, decoded like `parse_qsl`.
    pub query: Vec<(String, String)>,
}

/// Why a string is not a SQLAlchemy URL. The `Display` never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The string does not start with `name://`.
    #[error(
        "`{url}` is not a database URL: expected `backend[+driver]://[user[:password]@]host[:port]/database`, \
         e.g. `postgresql+psycopg2://airflow:***@postgres:5432/airflow`"
    )]
    Syntax {
        /// The input with any password masked.
        url: String,
    },
    /// The port is not an integer (or does not fit).
    #[error(
        "the port of database URL `{url}` is not a valid port number: write digits after the host, \
         e.g. `host:5432`, and percent-encode `:` `@` `/` in the user name and password (`%3A` `%40` `%2F`)"
    )]
    InvalidPort {
        /// The input with the password and the port masked.
        url: String,
    },
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbUrl")
            .field("drivername", &self.drivername)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("query", &self.query)
            .finish()
    }
}

/// The raw (undecoded) pieces matched by SQLAlchemy's regular expression.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct RawParts<'a> {
    name: &'a str,
    username: Option<&'a str>,
    password: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<&'a str>,
    port_range: Option<(usize, usize)>,
    database: Option<&'a str>,
    query: Option<&'a str>,
}

/// Python's `\w` for `str` patterns: Unicode letters and numbers plus `_` (close enough for
/// scheme names; exotic combining marks may differ).
fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Matches SQLAlchemy's URL regex against `s`; `None` when it does not match.
fn match_parts(s: &str) -> Option<RawParts<'_>> {
    let name_len: usize = s
        .char_indices()
        .find(|&(_, c)| !(is_word(c) || c == '+'))
        .map_or(s.len(), |(i, _)| i);
    if name_len == 0 || !s[name_len..].starts_with("://") {
        return None;
    }
    let base = name_len + 3;
    let r = &s[base..];
    let mut parts = RawParts {
        name: &s[..name_len],
        ..RawParts::default()
    };

    // User info: username `[^:/]*`, optional `:password` `[^@]*`, then `@`.
    let j = r.find([':', '/']).unwrap_or(r.len());
    let mut p = 0;
    if r[j..].starts_with(':') {
        if let Some(at) = r[j + 1..].find('@') {
            let at = j + 1 + at;
            parts.username = Some(&r[..j]);
            parts.password = Some(&r[j + 1..at]);
            p = at + 1;
        }
    }
    if p == 0 {
        if let Some(at) = r[..j].rfind('@') {
            parts.username = Some(&r[..at]);
            p = at + 1;
        }
    }

    // Host: `[ipv6]` (contents `[^/?]+`, greedy to the last `]`) or `[^/:?]+`.
    let rest = &r[p..];
    let mut ipv6 = None;
    if let Some(inner) = rest.strip_prefix('[') {
        let seg_end = inner.find(['/', '?']).unwrap_or(inner.len());
        if let Some(close) = inner[..seg_end].rfind(']') {
            if close > 0 {
                ipv6 = Some((&inner[..close], close + 2));
            }
        }
    }
    if let Some((host, consumed)) = ipv6 {
        parts.host = Some(host);
        p += consumed;
    } else {
        let len = rest.find(['/', ':', '?']).unwrap_or(rest.len());
        if len > 0 {
            parts.host = Some(&rest[..len]);
            p += len;
        }
    }

    // Port: `:` then `[^/?]*`.
    if r[p..].starts_with(':') {
        let len = r[p + 1..].find(['/', '?']).unwrap_or(r.len() - p - 1);
        parts.port = Some(&r[p + 1..p + 1 + len]);
        parts.port_range = Some((base + p + 1, base + p + 1 + len));
        p += 1 + len;
    }
    // Database: `/` then `[^?]*`.
    if r[p..].starts_with('/') {
        let len = r[p + 1..].find('?').unwrap_or(r.len() - p - 1);
        parts.database = Some(&r[p + 1..p + 1 + len]);
        p += 1 + len;
    }
    // Query: `?` then `.*` (stops at a newline, like Python's `.`).
    if r[p..].starts_with('?') {
        let len = r[p + 1..].find('\n').unwrap_or(r.len() - p - 1);
        parts.query = Some(&r[p + 1..p + 1 + len]);
    }
    Some(parts)
}

/// `urllib.parse.unquote`: decodes `%XX`, invalid UTF-8 becomes U+FFFD, bad escapes stay.
pub(crate) fn unquote(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `urllib.parse.parse_qsl(qs)` with its defaults (`keep_blank_values=False`).
pub(crate) fn parse_qsl(qs: &str) -> Vec<(String, String)> {
    qs.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            if v.is_empty() {
                return None;
            }
            Some((unquote(&k.replace('+', " ")), unquote(&v.replace('+', " "))))
        })
        .collect()
}

/// The blanks Python's `int()` strips: ASCII ` \t\n\v\f\r` and non-ASCII Unicode white
/// space (not U+001C..U+001F, which `str.isspace` accepts but `int()` does not). That is
/// exactly Unicode's White_Space property.
fn is_py_space(c: char) -> bool {
    c.is_whitespace()
}

/// Python's `int(text)` for base 10, limited to ASCII digits. `None` when Python would raise
/// `ValueError` (or for non-ASCII digits, which Python would accept).
pub(crate) fn py_int(text: &str) -> Option<i128> {
    let t = text.trim_matches(is_py_space);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        match c {
            '_' => {}
            '0'..='9' => {
                value = value
                    .saturating_mul(10)
                    .saturating_add(i128::from(c as u8 - b'0'));
            }
            _ => return None,
        }
    }
    Some(if neg { -value } else { value })
}

impl DbUrl {
    /// Parses `s` exactly like SQLAlchemy's `make_url`.
    pub fn parse(s: &str) -> Result<DbUrl, UrlError> {
        let Some(parts) = match_parts(s) else {
            return Err(UrlError::Syntax {
                url: shown_invalid(s),
            });
        };
        let port = match parts.port {
            // SQLAlchemy: `if components["port"]: int(...)`; an empty port then fails in
            // `URL.create` (`int("")`), so both end up as an error.
            Some(text) => {
                let value = py_int(text).and_then(|v| u32::try_from(v).ok());
                match value {
                    Some(v) => Some(v),
                    None => {
                        let (a, b) = parts.port_range.unwrap_or((0, 0));
                        let masked = format!("{}***{}", &s[..a], &s[b..]);
                        return Err(UrlError::InvalidPort {
                            url: redact(&masked),
                        });
                    }
                }
            }
            None => None,
        };
        Ok(DbUrl {
            drivername: parts.name.to_owned(),
            username: parts.username.map(unquote),
            password: parts.password.map(unquote),
            host: parts.host.map(str::to_owned),
            port,
            database: parts.database.map(unquote),
            query: parts.query.map(parse_qsl).unwrap_or_default(),
        })
    }

    /// The backend: the drivername up to the first `+` (`postgresql` for
    /// `postgresql+psycopg2`).
    pub fn backend(&self) -> &str {
        self.drivername.split('+').next().unwrap_or_default()
    }

    /// The driver: the part after the first `+`, if any (up to a second `+`).
    pub fn driver(&self) -> Option<&str> {
        self.drivername.split('+').nth(1)
    }

    /// The first value of query key `key`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The URL rendered back with the password replaced by `***`. Safe to log.
    pub fn redacted(&self) -> String {
        let mut out = format!("{}://", self.drivername);
        if let Some(user) = &self.username {
            out.push_str(&utf8_percent_encode(user, USERINFO).to_string());
            if self.password.is_some() {
                out.push_str(":***");
            }
            out.push('@');
        }
        if let Some(host) = &self.host {
            if host.contains(':') {
                out.push('[');
                out.push_str(host);
                out.push(']');
            } else {
                out.push_str(host);
            }
        }
        if let Some(port) = self.port {
            out.push(':');
            out.push_str(&port.to_string());
        }
        if let Some(db) = &self.database {
            out.push('/');
            out.push_str(&utf8_percent_encode(db, DATABASE).to_string());
        }
        if !self.query.is_empty() {
            out.push('?');
            let pairs: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        utf8_percent_encode(k, QUERY),
                        utf8_percent_encode(v, QUERY)
                    )
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        out
    }
}

impl fmt::Display for DbUrl {
    /// Same as [`DbUrl::redacted`]: a `DbUrl` never displays its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b':')
    .add(b'@')
    .add(b'/')
    .add(b'%')
    .add(b'?')
    .add(b'#');
const DATABASE: &AsciiSet = &CONTROLS.add(b'?').add(b'%');
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'&')
    .add(b'=')
    .add(b'%')
    .add(b'+')
    .add(b'#');

/// How an input that is not a URL at all is shown in an error: with passwords masked, and
/// cut after its first `:` when it contains an `@` that [`redact`] could not place.
fn shown_invalid(s: &str) -> String {
    let masked = redact(s);
    if masked != s || !s.contains('@') {
        return masked;
    }
    let cut = s.find(':').map_or(0, |i| i + 1);
    format!("{}… (rest hidden: it may contain a password)", &s[..cut])
}

/// Masks the password of every `scheme://user:password@host` in `raw` with `***`, even when
/// `raw` is not a valid URL.
///
/// To be safe whichever parser a consumer uses, the masked span starts after the first `:` of
/// the user info and ends at the latest of: SQLAlchemy's password end (the first `@` after
/// that `:`), RFC 3986's (the last `@` before the first `/`, `?` or `#`), and the last `@`
/// before the query (so a raw password containing both `/` and `@` is hidden too).
pub fn redact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let j = tail.find([':', '/']).unwrap_or(tail.len());
        if !tail[j..].starts_with(':') {
            rest = tail;
            continue;
        }
        let sqla_at = tail[j + 1..].find('@').map(|k| j + 1 + k);
        let authority_end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
        let rfc_at = tail[..authority_end].rfind('@').filter(|&k| k > j);
        let before_query = tail[j..]
            .find(|c: char| c == '?' || c == '#' || c.is_whitespace())
            .map_or(tail.len(), |k| j + k);
        let last_at = tail[..before_query].rfind('@').filter(|&k| k > j);
        match [sqla_at, rfc_at, last_at].into_iter().flatten().max() {
            Some(end) => {
                out.push_str(&tail[..=j]);
                out.push_str("***");
                rest = &tail[end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_int_follows_python() {
        assert_eq!(py_int("5432"), Some(5432));
        assert_eq!(py_int(" 5432\t"), Some(5432));
        assert_eq!(py_int("+5"), Some(5));
        assert_eq!(py_int("-5"), Some(-5));
        assert_eq!(py_int("1_000"), Some(1000));
        assert_eq!(py_int("007"), Some(7));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("_1"), None);
        assert_eq!(py_int(""), None);
        assert_eq!(py_int("abc"), None);
        assert_eq!(py_int("5 4"), None);
        assert_eq!(py_int("32\u{1c}"), None);
        assert_eq!(py_int("32\u{a0}\u{3000}\u{85}\u{b}"), Some(32));
    }

    #[test]
    fn parse_qsl_drops_blank_and_bare() {
        assert_eq!(
            parse_qsl("a=1&b&c=&a=2&d=x+y%2B&&=v"),
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "2".into()),
                ("d".into(), "x y+".into()),
                (String::new(), "v".into()),
            ]
        );
    }

    #[test]
    fn redact_masks_both_interpretations() {
        assert_eq!(
            redact("postgresql://u:secret@h/db"),
            "postgresql://u:***@h/db"
        );
        assert_eq!(redact("redis://:p@ss@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("a://u:pa/ss@h/db"), "a://u:***@h/db");
        assert_eq!(redact("a://h:5432/db"), "a://h:5432/db");
        assert_eq!(redact("a://u@h/db"), "a://u@h/db");
        assert_eq!(
            redact("x a://u:p1@h and b://v:p2@k"),
            "x a://u:***@h and b://v:***@k"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
