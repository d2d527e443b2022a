//! Structured log lines on stderr: `key=value` (logfmt, default) or one JSON object per line.
//!
//! Every line starts with `ts` (UTC, RFC 3339), `level` and `event`; the refresher adds
//! `principal`, `cache`, `expires`, `renew_until`, `next_refresh`, `reason`... as they apply.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Repeated retries and other detail (shown with `--verbose`).
    Debug,
    /// Normal progress.
    Info,
    /// A failure the refresher recovers from.
    Warn,
    /// A failure that ends the refresher.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `key=value` pairs, values quoted when needed.
    #[default]
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Writes log lines to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    /// Lowest level written.
    pub min: Level,
    /// Line format.
    pub format: Format,
}

impl Logger {
    /// Writes one line if `level` is enabled.
    pub fn log(&self, level: Level, event: &str, fields: &[(&str, String)]) {
        if level < self.min {
            return;
        }
        let line = render(self.format, now_secs(), level, event, fields);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Renders one line.
pub fn render(
    format: Format,
    ts: i64,
    level: Level,
    event: &str,
    fields: &[(&str, String)],
) -> String {
    let mut all: Vec<(&str, String)> = vec![
        ("ts", rfc3339(ts)),
        ("level", level.as_str().to_owned()),
        ("event", event.to_owned()),
    ];
    all.extend(fields.iter().cloned());
    match format {
        Format::Logfmt => all
            .iter()
            .map(|(k, v)| format!("{k}={}", logfmt_value(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Format::Json => {
            let body = all
                .iter()
                .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
                .collect::<Vec<_>>()
                .join(",");
            format!("{{{body}}}")
        }
    }
}

fn logfmt_value(v: &str) -> String {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control())
    {
        return v.to_owned();
    }
    json_string(v)
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (times before the epoch show the epoch).
pub fn rfc3339(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or(0);
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_564_800 + 3661), "2026-11-25T01:01:01Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn logfmt_quotes_only_when_needed() {
        let line = render(
            Format::Logfmt,
            0,
            Level::Warn,
            "refresh_failed",
            &[
                ("principal", "a/b@R".into()),
                ("reason", "Cannot contact any KDC \"R\"".into()),
            ],
        );
        assert_eq!(
            line,
            r#"ts=1970-01-01T00:00:00Z level=warn event=refresh_failed principal=a/b@R reason="Cannot contact any KDC \"R\"""#
        );
    }

    #[test]
    fn json_lines_are_objects() {
        let line = render(Format::Json, 0, Level::Info, "e", &[("k", "v\n".into())]);
        assert_eq!(
            line,
            r#"{"ts":"1970-01-01T00:00:00Z","level":"info","event":"e","k":"v\n"}"#
        );
    }
}
