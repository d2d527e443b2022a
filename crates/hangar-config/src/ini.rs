//! The subset of Python's `configparser` that airflow.cfg uses.
//!
//! - `[section]` headers (case-sensitive names), `key = value` or `key: value` options (keys
//!   are lowercased, keys and values stripped), indented continuation lines, full-line `#` and
//!   `;` comments, a `[DEFAULT]` section whose options every section inherits;
//! - `BasicInterpolation`: `%%` is a literal `%`, `%(name)s` is another option of the same
//!   section (or of `DEFAULT`). This matters: a percent-encoded password in airflow.cfg must be
//!   written `%%40`, and is read back as `%40`.
//!
//! A later duplicate of a section or an option wins.

use std::collections::BTreeMap;

/// A parsed INI file.
#[derive(Debug, Clone, Default)]
pub struct IniFile {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

/// A syntax error, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    pub line: usize,
    pub message: String,
}

const DEFAULT_SECTION: &str = "DEFAULT";
/// Interpolation depth limit, as in configparser.
const MAX_DEPTH: usize = 10;

impl IniFile {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<IniFile, IniError> {
        let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut section: Option<String> = None;
        // The option being read, for continuation lines, and blank lines seen inside it.
        let mut current: Option<String> = None;
        let mut pending_blank = 0usize;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                if current.is_some() {
                    pending_blank += 1;
                }
                continue;
            }
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let indented = raw.starts_with([' ', '\t']);
            if indented {
                if let (Some(sec), Some(key)) = (&section, &current) {
                    let value = sections
                        .get_mut(sec)
                        .and_then(|s| s.get_mut(key))
                        .expect("current option exists");
                    for _ in 0..=pending_blank {
                        value.push('\n');
                    }
                    value.push_str(trimmed);
                    pending_blank = 0;
                    continue;
                }
            }
            current = None;
            pending_blank = 0;
            if trimmed.starts_with('[') {
                let Some(end) = trimmed.rfind(']').filter(|&end| end > 1) else {
                    return Err(IniError {
                        line: line_no,
                        message: format!("malformed section header {trimmed:?}"),
                    });
                };
                let name = trimmed[1..end].to_owned();
                sections.entry(name.clone()).or_default();
                section = Some(name);
                continue;
            }
            let Some(sec) = &section else {
                return Err(IniError {
                    line: line_no,
                    message: "an option before any [section] header".to_owned(),
                });
            };
            let Some(split) = trimmed.find(['=', ':']) else {
                return Err(IniError {
                    line: line_no,
                    message: format!("expected `key = value`, found {trimmed:?}"),
                });
            };
            let key = trimmed[..split].trim().to_lowercase();
            if key.is_empty() {
                return Err(IniError {
                    line: line_no,
                    message: "an option with an empty name".to_owned(),
                });
            }
            let value = trimmed[split + 1..].trim().to_owned();
            sections
                .get_mut(sec)
                .expect("section exists")
                .insert(key.clone(), value);
            current = Some(key);
        }
        Ok(IniFile { sections })
    }

    /// The interpolated value of `[section] key`, falling back to `[DEFAULT]`. A value whose
    /// interpolation cannot be completed is returned as written.
    #[must_use]
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        let key = key.to_lowercase();
        let raw = self.raw(section, &key)?;
        Some(
            self.interpolate(section, raw, 0)
                .unwrap_or_else(|| raw.to_owned()),
        )
    }

    /// Whether the section exists.
    #[must_use]
    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    fn raw(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(key))
            .or_else(|| self.sections.get(DEFAULT_SECTION).and_then(|s| s.get(key)))
            .map(String::as_str)
    }

    fn interpolate(&self, section: &str, value: &str, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('%') {
                out.push('%');
                rest = tail;
            } else if let Some(named) = after.strip_prefix('(') {
                let end = named.find(")s")?;
                let name = named[..end].to_lowercase();
                let referenced = self.raw(section, &name)?;
                out.push_str(&self.interpolate(section, referenced, depth + 1)?);
                rest = &named[end + 2..];
            } else {
                // configparser rejects a lone '%'; keep it as written rather than fail.
                out.push('%');
                rest = after;
            }
        }
        out.push_str(rest);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_options_comments() {
        let ini = IniFile::parse(
            "# comment\n; other\n[core]\nExecutor = CeleryExecutor\nparallelism: 32\n\n[database]\nsql_alchemy_conn=sqlite:////tmp/a.db\n",
        )
        .unwrap();
        assert_eq!(
            ini.get("core", "executor").as_deref(),
            Some("CeleryExecutor")
        );
        assert_eq!(
            ini.get("core", "EXECUTOR").as_deref(),
            Some("CeleryExecutor")
        );
        assert_eq!(ini.get("core", "parallelism").as_deref(), Some("32"));
        assert_eq!(
            ini.get("database", "sql_alchemy_conn").as_deref(),
            Some("sqlite:////tmp/a.db")
        );
        assert_eq!(
            ini.get("Core", "executor"),
            None,
            "section names are case-sensitive"
        );
        assert!(ini.has_section("database"));
    }

    #[test]
    fn value_containing_delimiters() {
        let ini = IniFile::parse("[celery]\nbroker_url = redis://:p=w:d@h:6379/0\n").unwrap();
        assert_eq!(
            ini.get("celery", "broker_url").as_deref(),
            Some("redis://:p=w:d@h:6379/0")
        );
    }

    #[test]
    fn continuation_lines() {
        let ini = IniFile::parse("[a]\nk = first\n  second\n\n  third\nj = x\n").unwrap();
        assert_eq!(ini.get("a", "k").as_deref(), Some("first\nsecond\n\nthird"));
        assert_eq!(ini.get("a", "j").as_deref(), Some("x"));
    }

    #[test]
    fn interpolation_and_default() {
        let ini = IniFile::parse(
            "[DEFAULT]\nbase = /opt\n[logging]\nlog_format = [%%(asctime)s] %%(message)s\nfolder = %(base)s/logs\npw = p%%40ss\nbroken = %(missing)s\n",
        )
        .unwrap();
        assert_eq!(
            ini.get("logging", "log_format").as_deref(),
            Some("[%(asctime)s] %(message)s")
        );
        assert_eq!(ini.get("logging", "folder").as_deref(), Some("/opt/logs"));
        assert_eq!(ini.get("logging", "pw").as_deref(), Some("p%40ss"));
        assert_eq!(ini.get("logging", "broken").as_deref(), Some("%(missing)s"));
        assert_eq!(ini.get("other", "base").as_deref(), Some("/opt"));
    }

    #[test]
    fn errors_have_line_numbers() {
        assert_eq!(IniFile::parse("x = 1\n").unwrap_err().line, 1);
        assert_eq!(IniFile::parse("[a]\n\nnovalue\n").unwrap_err().line, 3);
        assert_eq!(IniFile::parse("[a]\n[\n").unwrap_err().line, 2);
        assert_eq!(IniFile::parse("[a]\n = v\n").unwrap_err().line, 2);
    }

    #[test]
    fn last_duplicate_wins() {
        let ini = IniFile::parse("[a]\nk = 1\n[a]\nk = 2\n").unwrap();
        assert_eq!(ini.get("a", "k").as_deref(), Some("2"));
    }
}
