//! Per-arg syntax checks of build-arg values, and the value parsers they share with the
//! in-build steps.

/// Splits a comma-separated extras list into names; on failure returns the offending item.
/// Blanks around names are ignored; an entirely empty list is valid (no extras).
pub fn parse_extras(list: &str) -> Result<Vec<String>, String> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|item| {
            let name = item.trim();
            let ok = !name.is_empty()
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name.ends_with(|c: char| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if ok {
                Ok(name.to_owned())
            } else {
                Err(item.to_owned())
            }
        })
        .collect()
}

/// The form of an `AIRFLOW_INSTALLATION_METHOD` (or legacy `AIRFLOW_INSTALL_SOURCES`) value,
/// borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallMethod<'a> {
    /// `apache-airflow` (or empty): from the package index.
    PyPi,
    /// A source tree, sdist or wheel inside the build stage.
    Path(&'a str),
    /// An archive URL (`https://…/main.tar.gz`, optionally written `apache-airflow @ URL`),
    /// without the `apache-airflow @` prefix.
    Url(&'a str),
    /// `github`: the archive of `AIRFLOW_BRANCH` of `AIRFLOW_REPO`.
    GitHub,
}

/// Parses an install-method value; the error is a short description of what was expected.
pub fn parse_install_method(value: &str) -> Result<InstallMethod<'_>, &'static str> {
    let v = value.trim();
    if v.is_empty() || v == "apache-airflow" || v == "apache_airflow" {
        return Ok(InstallMethod::PyPi);
    }
    if v == "github" {
        return Ok(InstallMethod::GitHub);
    }
    let url = v
        .split_once('@')
        .filter(|(name, _)| matches!(name.trim(), "apache-airflow" | "apache_airflow"))
        .map_or(v, |(_, url)| url.trim());
    if url.starts_with("https://") || url.starts_with("http://") || url.starts_with("file://") {
        if url.chars().any(char::is_whitespace) {
            return Err("a URL without spaces");
        }
        return Ok(InstallMethod::Url(url));
    }
    if v.chars().any(char::is_whitespace) || v.contains('@') {
        return Err("`apache-airflow`, `github`, a path or an archive URL");
    }
    Ok(InstallMethod::Path(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_lists_split_into_names() {
        assert_eq!(
            parse_extras(" postgres, cncf.kubernetes ,celery"),
            Ok(vec![
                "postgres".to_owned(),
                "cncf.kubernetes".to_owned(),
                "celery".to_owned()
            ])
        );
        assert_eq!(parse_extras("  "), Ok(Vec::new()));
        assert!(parse_extras("a,,b").is_err());
        assert!(parse_extras("-a").is_err());
        assert_eq!(
            parse_extras("postgres,celery;x"),
            Err("celery;x".to_owned())
        );
    }

    #[test]
    fn install_methods_parse_in_every_form() {
        assert_eq!(
            parse_install_method("apache-airflow"),
            Ok(InstallMethod::PyPi)
        );
        assert_eq!(parse_install_method(""), Ok(InstallMethod::PyPi));
        assert_eq!(parse_install_method("github"), Ok(InstallMethod::GitHub));
        assert_eq!(parse_install_method(" . "), Ok(InstallMethod::Path(".")));
        assert_eq!(
            parse_install_method(
                "apache-airflow @ https://github.com/apache/airflow/archive/main.tar.gz"
            ),
            Ok(InstallMethod::Url(
                "https://github.com/apache/airflow/archive/main.tar.gz"
            ))
        );
        assert_eq!(
            parse_install_method("https://x.org/a.tar.gz"),
            Ok(InstallMethod::Url("https://x.org/a.tar.gz"))
        );
        assert!(parse_install_method("apache-airflow @ nothing here").is_err());
        assert!(parse_install_method("foo @ https://x").is_err());
    }
}
