//! Where the base's packages come from: a mirror URL, a Debian snapshot date, or the first
//! Debian source of an apt sources file (one-line or deb822), and the sources the image keeps.

use std::path::Path;

use crate::error::BaseError;

/// Debian's own mirror, the default.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// Where the packages come from, and what the image's apt sources will say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The URL debootstrap fetches from.
    pub mirror: String,
    /// The image's `/etc/apt/sources.list.d/` file: its name and text.
    pub sources_file: (String, String),
    /// The snapshot date, when pinned (`20250520T000000Z`).
    pub snapshot: Option<String>,
}

/// A snapshot date as snapshot.debian.org names it: `YYYYMMDDTHHMMSSZ`, or `YYYY-MM-DD`
/// (midnight UTC).
///
/// # Errors
/// Neither form.
pub fn snapshot_stamp(date: &str) -> Result<String, BaseError> {
    let d = date.trim();
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let stamp = if d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-' {
        let compact = d.replace('-', "");
        digits(&compact).then(|| format!("{compact}T000000Z"))
    } else if d.len() == 16 && d.as_bytes()[8] == b'T' && d.ends_with('Z') {
        (digits(&d[..8]) && digits(&d[9..15])).then(|| d.to_owned())
    } else {
        None
    };
    stamp.ok_or_else(|| BaseError::Input {
        input: format!("--snapshot {date}"),
        problem: "not a snapshot date".into(),
        fix: "give YYYY-MM-DD or YYYYMMDDTHHMMSSZ, e.g. 2025-05-20 (see snapshot.debian.org)"
            .into(),
    })
}

/// The first `http(s)` URL of a Debian source in an apt sources file: `deb [opts] URL …`
/// lines, or deb822 `URIs:` fields.
#[must_use]
pub fn first_uri(text: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        let candidates: Vec<&str> = if let Some(rest) = line.strip_prefix("URIs:") {
            rest.split_whitespace().collect()
        } else if let Some(rest) = line.strip_prefix("deb ") {
            rest.split_whitespace().collect()
        } else {
            continue;
        };
        if let Some(url) = candidates
            .into_iter()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        {
            return Some(url.to_owned());
        }
    }
    None
}

/// The deb822 sources of `mirror` for `suite` (and its updates), main only.
fn deb822(mirror: &str, suite: &str, snapshot: bool) -> String {
    let mut s = format!(
        "Types: deb\nURIs: {mirror}\nSuites: {suite} {suite}-updates\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    if snapshot {
        // A snapshot's Release files are past their Valid-Until date by design.
        s.push_str("Check-Valid-Until: no\n");
    }
    s
}

/// Resolves the source of the packages: `--apt-sources FILE` (its first Debian URL, the file
/// kept as the image's sources), else `--snapshot`, else `--mirror`, else Debian's mirror.
///
/// # Errors
/// The sources file cannot be read or names no http(s) source; the snapshot date is malformed;
/// the mirror is not an http(s) URL.
pub fn resolve(
    suite: &str,
    mirror: Option<&str>,
    snapshot: Option<&str>,
    apt_sources: Option<&Path>,
) -> Result<Source, BaseError> {
    if let Some(file) = apt_sources {
        let input = format!("--apt-sources {}", file.display());
        let text = std::fs::read_to_string(file).map_err(|e| BaseError::Input {
            input: input.clone(),
            problem: format!("cannot read it: {e}"),
            fix: "give a readable apt sources file (one-line `deb URL SUITE main` or deb822)"
                .into(),
        })?;
        let mirror = first_uri(&text).ok_or_else(|| BaseError::Input {
            input: input.clone(),
            problem: "no `deb http(s)://…` line and no `URIs:` field".into(),
            fix:
                "name your Debian mirror in it, e.g. `deb http://mirror.corp/debian bookworm main`"
                    .into(),
        })?;
        if text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| {
                l.split_whitespace()
                    .any(|w| w.contains("://") && without_credentials(w) != w)
            })
        {
            return Err(BaseError::Input {
                input,
                problem: "a source URL carries credentials, and the file is kept as the image's apt sources".into(),
                fix: "remove `user:password@` from it and give the mirror's credentials to apt in \
                      /etc/apt/auth.conf.d/ of the machines that use the image"
                    .into(),
            });
        }
        let name = if text.lines().any(|l| l.trim_start().starts_with("URIs:")) {
            "hangar.sources"
        } else {
            "hangar.list"
        };
        return Ok(Source {
            mirror,
            sources_file: (name.to_owned(), text),
            snapshot: None,
        });
    }
    if let Some(date) = snapshot {
        let stamp = snapshot_stamp(date)?;
        let mirror = format!("http://snapshot.debian.org/archive/debian/{stamp}");
        return Ok(Source {
            sources_file: ("debian.sources".into(), deb822(&mirror, suite, true)),
            mirror,
            snapshot: Some(stamp),
        });
    }
    let mirror = mirror
        .unwrap_or(DEFAULT_MIRROR)
        .trim_end_matches('/')
        .to_owned();
    if !(mirror.starts_with("http://") || mirror.starts_with("https://")) {
        return Err(BaseError::Input {
            input: format!("--mirror {mirror}"),
            problem: "not an http:// or https:// URL".into(),
            fix: format!("give a Debian mirror such as {DEFAULT_MIRROR}"),
        });
    }
    // The image keeps the mirror without the credentials debootstrap may have needed.
    Ok(Source {
        sources_file: (
            "debian.sources".into(),
            deb822(&without_credentials(&mirror), suite, false),
        ),
        mirror,
        snapshot: None,
    })
}

/// `mirror` without a `user:password@` part, for labels and messages.
#[must_use]
pub fn without_credentials(mirror: &str) -> String {
    match mirror.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => mirror.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_dates_in_both_forms() {
        assert_eq!(snapshot_stamp("2025-05-20").unwrap(), "20250520T000000Z");
        assert_eq!(
            snapshot_stamp("20250520T120000Z").unwrap(),
            "20250520T120000Z"
        );
        for bad in ["2025-5-20", "yesterday", "20250520", "2025-05-2x"] {
            let e = snapshot_stamp(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("YYYY-MM-DD"), "{e}");
        }
    }

    #[test]
    fn the_first_debian_url_of_a_sources_file() {
        assert_eq!(
            first_uri("# corp\ndeb [signed-by=/k.gpg] https://mirror.corp/debian bookworm main\n"),
            Some("https://mirror.corp/debian".into())
        );
        assert_eq!(
            first_uri(
                "Types: deb\nURIs: http://m.corp/debian http://other/debian\nSuites: bookworm\n"
            ),
            Some("http://m.corp/debian".into())
        );
        assert_eq!(
            first_uri("#deb http://x/debian bookworm main\ndeb-src http://y/ b m\n"),
            None
        );
    }

    #[test]
    fn sources_resolve_in_order_of_precedence() {
        let s = resolve("bookworm", None, None, None).unwrap();
        assert_eq!(s.mirror, DEFAULT_MIRROR);
        assert!(
            s.sources_file
                .1
                .contains("Suites: bookworm bookworm-updates")
        );
        let s = resolve("bookworm", Some("http://m.corp/debian/"), None, None).unwrap();
        assert_eq!(s.mirror, "http://m.corp/debian");
        let s = resolve("bookworm", Some("http://ignored"), Some("2025-05-20"), None).unwrap();
        assert_eq!(
            s.mirror,
            "http://snapshot.debian.org/archive/debian/20250520T000000Z"
        );
        assert!(s.sources_file.1.contains("Check-Valid-Until: no"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("corp.list");
        std::fs::write(&f, "deb https://mirror.corp/debian bookworm main\n").unwrap();
        let s = resolve("bookworm", None, Some("2025-05-20"), Some(&f)).unwrap();
        assert_eq!(s.mirror, "https://mirror.corp/debian");
        assert_eq!(s.sources_file.0, "hangar.list");
        std::fs::write(&f, "deb https://u:p@mirror.corp/debian bookworm main\n").unwrap();
        let e = resolve("bookworm", None, None, Some(&f))
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.conf") && !e.contains("u:p"), "{e}");
        let s = resolve("bookworm", Some("https://u:p@m.corp/debian"), None, None).unwrap();
        assert_eq!(s.mirror, "https://u:p@m.corp/debian");
        assert!(!s.sources_file.1.contains("u:p"), "{}", s.sources_file.1);
        let e = resolve("bookworm", Some("ftp://x"), None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--mirror ftp://x"), "{e}");
        std::fs::write(&f, "# nothing\n").unwrap();
        let e = resolve("bookworm", None, None, Some(&f))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--apt-sources") && e.contains("URIs:"), "{e}");
    }

    #[test]
    fn credentials_are_left_out_of_labels() {
        assert_eq!(
            without_credentials("https://u:p@mirror.corp/debian"),
            "https://mirror.corp/debian"
        );
        assert_eq!(
            without_credentials("http://deb.debian.org/debian"),
            DEFAULT_MIRROR
        );
    }
}
