//! A CycloneDX 1.5 JSON SBOM of an image: the image as the described component (named by its
//! digest), every Debian package and every Python distribution as a library with its package
//! URL, and the archive hashes the installer recorded.

use serde_json::{Value, json};

use crate::packages::{DebPackage, PythonPackage, normalize};

/// RFC 3339 UTC time to the second, as CycloneDX's `timestamp`.
#[must_use]
pub fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

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

/// CycloneDX's name of a hash algorithm as Python's `hashlib` and pip write it.
fn hash_alg(alg: &str) -> Option<&'static str> {
    match alg.to_ascii_lowercase().as_str() {
        "sha256" => Some("SHA-256"),
        "sha384" => Some("SHA-384"),
        "sha512" => Some("SHA-512"),
        "sha1" => Some("SHA-1"),
        "md5" => Some("MD5"),
        _ => None,
    }
}

/// The SBOM document.
#[must_use]
pub fn cyclonedx(s: &Subject<'_>, debs: &[DebPackage], python: &[PythonPackage]) -> Value {
    let mut components = Vec::new();
    for p in python {
        let purl = pypi_purl(p);
        let hashes: Vec<Value> = p
            .hashes
            .iter()
            .filter_map(|(alg, v)| hash_alg(alg).map(|a| json!({"alg": a, "content": v})))
            .collect();
        let mut c = json!({
            "type": "library",
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
            "purl": purl,
            "properties": [{"name": "hangar:package-manager", "value": "python"}],
        });
        if !hashes.is_empty() {
            c["hashes"] = Value::Array(hashes);
        }
        components.push(c);
    }
    for p in debs {
        let purl = deb_purl(s.distro, p);
        components.push(json!({
            "type": "library",
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
            "purl": purl,
            "properties": [{"name": "hangar:package-manager", "value": "dpkg"}],
        }));
    }
    let (alg, digest) = s.id.split_once(':').unwrap_or(("sha256", s.id));
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": s.serial,
        "version": 1,
        "metadata": {
            "timestamp": s.timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": "hangar",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": s.image,
                "version": s.id,
                "hashes": hash_alg(alg).map(|a| vec![json!({"alg": a, "content": digest})]).unwrap_or_default(),
            },
        },
        "components": components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject<'static> {
        Subject {
            image: "my/airflow:1",
            id: "sha256:abc123",
            distro: "debian",
            timestamp: "2026-12-03T00:00:00Z",
            serial: "urn:uuid:00000000-0000-4000-8000-000000000000",
        }
    }

    #[test]
    fn timestamps_are_rfc3339_seconds() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_764_720_000);
        assert_eq!(rfc3339(t), "2025-12-03T00:00:00Z");
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

    #[test]
    fn the_document_lists_the_image_and_every_package() {
        let debs = [DebPackage {
            name: "bash".into(),
            version: "5.2.15-2+b7".into(),
            architecture: "amd64".into(),
        }];
        let python = [
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
        let bom = cyclonedx(&subject(), &debs, &python);
        assert_eq!(bom["bomFormat"], "CycloneDX");
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(bom["metadata"]["component"]["type"], "container");
        assert_eq!(bom["metadata"]["component"]["version"], "sha256:abc123");
        assert_eq!(
            bom["metadata"]["component"]["hashes"][0],
            json!({"alg": "SHA-256", "content": "abc123"})
        );
        let c = bom["components"].as_array().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0]["purl"], "pkg:pypi/apache-airflow@3.3.2");
        assert_eq!(
            c[0]["hashes"],
            json!([{"alg": "SHA-256", "content": "ff00"}])
        );
        assert!(c[1].get("hashes").is_none());
        assert_eq!(c[2]["purl"], "pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64");
        assert_eq!(c[2]["properties"][0]["value"], "dpkg");
        // Every bom-ref is unique.
        let refs: std::collections::BTreeSet<&str> =
            c.iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
        assert_eq!(refs.len(), 3);
    }
}
