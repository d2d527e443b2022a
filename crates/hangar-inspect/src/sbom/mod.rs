//! The SBOM of an image, in either format ([`Format`]): the image named by its digest, every
//! Debian package and every Python distribution with its package URL, and the archive hashes
//! the installer recorded. What both formats share lives here.

mod cyclonedx;
mod spdx;

use serde_json::Value;

pub use self::cyclonedx::cyclonedx;
pub use self::spdx::spdx;

use crate::packages::{DebPackage, PythonPackage, normalize};

/// The document as indented JSON with a final newline.
#[must_use]
pub fn pretty(bom: &Value) -> String {
    let mut s = serde_json::to_string_pretty(bom).unwrap_or_default();
    s.push('\n');
    s
}

/// What the SBOM describes.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The image as the user named it.
    pub image: &'a str,
    /// The image's ID (`sha256:…`), as the engine reports it.
    pub id: &'a str,
    /// `ID=value` of `/etc/os-release`, the Debian flavour of the package URLs (`debian`).
    pub distro: &'a str,
    /// RFC 3339 time of the document.
    pub timestamp: &'a str,
    /// `urn:uuid:…` of the document.
    pub serial: &'a str,
}

/// Characters a package URL keeps as they are in a name or version (RFC 3986 unreserved).
fn purl_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The package URL of a Debian package.
#[must_use]
pub fn deb_purl(distro: &str, p: &DebPackage) -> String {
    let mut purl = format!(
        "pkg:deb/{}/{}@{}",
        purl_escape(distro),
        purl_escape(&p.name),
        purl_escape(&p.version)
    );
    if !p.architecture.is_empty() {
        purl.push_str(&format!("?arch={}", purl_escape(&p.architecture)));
    }
    purl
}

/// The package URL of a Python distribution (normalized name).
#[must_use]
pub fn pypi_purl(p: &PythonPackage) -> String {
    format!(
        "pkg:pypi/{}@{}",
        purl_escape(&normalize(&p.name)),
        purl_escape(&p.version)
    )
}

/// A hash algorithm of the SBOM formats, from its name as Python's `hashlib`, pip and the
/// engines write it (`sha256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
    Sha1,
    Md5,
}

impl HashAlg {
    fn parse(alg: &str) -> Option<Self> {
        match alg.to_ascii_lowercase().as_str() {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            "sha1" => Some(Self::Sha1),
            "md5" => Some(Self::Md5),
            _ => None,
        }
    }
}

/// The SBOM formats hangar writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// CycloneDX 1.5 JSON.
    #[default]
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
}

impl Format {
    /// Every format.
    pub const ALL: [Self; 2] = [Self::CycloneDx, Self::Spdx];

    /// The word that names the format on the command line (`cyclonedx`, `spdx`).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::CycloneDx => "cyclonedx",
            Self::Spdx => "spdx",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|f| f.key() == s).ok_or_else(|| {
            format!(
                "unknown SBOM format {s:?}: give `cyclonedx` (CycloneDX 1.5 JSON) or `spdx` (SPDX 2.3 JSON)"
            )
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CycloneDx => "CycloneDX",
            Self::Spdx => "SPDX",
        })
    }
}

/// The document of `s` in `format`.
#[must_use]
pub fn document(
    format: Format,
    s: &Subject<'_>,
    debs: &[DebPackage],
    python: &[PythonPackage],
) -> Value {
    match format {
        Format::CycloneDx => cyclonedx(s, debs, python),
        Format::Spdx => spdx(s, debs, python),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn subject() -> Subject<'static> {
        Subject {
            image: "my/airflow:1",
            id: "sha256:abc123",
            distro: "debian",
            timestamp: "2026-12-03T00:00:00Z",
            serial: "urn:uuid:00000000-0000-4000-8000-000000000000",
        }
    }

    /// A Debian package and two Python distributions, one with hashes (one of them of an
    /// algorithm neither format names).
    pub(crate) fn packages() -> (Vec<DebPackage>, Vec<PythonPackage>) {
        let debs = vec![DebPackage {
            name: "bash".into(),
            version: "5.2.15-2+b7".into(),
            architecture: "amd64".into(),
        }];
        let python = vec![
            PythonPackage {
                name: "apache-airflow".into(),
                version: "3.3.2".into(),
                hashes: vec![
                    ("sha256".into(), "ff00".into()),
                    ("blake9".into(), "x".into()),
                ],
            },
            PythonPackage {
                name: "six".into(),
                version: "1.17.0".into(),
                hashes: Vec::new(),
            },
        ];
        (debs, python)
    }

    #[test]
    fn formats_are_named_by_their_key() {
        for f in Format::ALL {
            assert_eq!(f.key().parse::<Format>(), Ok(f));
        }
        let e = "xml".parse::<Format>().unwrap_err();
        assert!(e.contains("`cyclonedx`") && e.contains("`spdx`"), "{e}");
    }

    #[test]
    fn package_urls_escape_what_they_must() {
        let deb = DebPackage {
            name: "libstdc++6".into(),
            version: "1:12.2.0-14+deb12u1".into(),
            architecture: "amd64".into(),
        };
        assert_eq!(
            deb_purl("debian", &deb),
            "pkg:deb/debian/libstdc%2B%2B6@1%3A12.2.0-14%2Bdeb12u1?arch=amd64"
        );
        let py = PythonPackage {
            name: "Flask_AppBuilder".into(),
            version: "4.5.0".into(),
            hashes: Vec::new(),
        };
        assert_eq!(pypi_purl(&py), "pkg:pypi/flask-appbuilder@4.5.0");
    }
}
