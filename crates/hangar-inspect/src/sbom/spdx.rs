//! SPDX 2.3 JSON: the document describes the image (a `CONTAINER` package checksummed by its
//! digest), which `CONTAINS` each Debian and Python package (`LIBRARY`, with its package URL).
//! hangar reads no licences, so every licence field says `NOASSERTION`.

use serde_json::{Value, json};

use super::{HashAlg, Subject, deb_purl, pypi_purl};
use crate::packages::{DebPackage, PythonPackage};

/// The image's identifier in the document.
const IMAGE_ID: &str = "SPDXRef-Image";
/// What SPDX writes for a fact the tool did not determine.
const NOASSERTION: &str = "NOASSERTION";

/// SPDX's name of a checksum algorithm.
fn checksum_alg(alg: &str) -> Option<&'static str> {
    HashAlg::parse(alg).map(|a| match a {
        HashAlg::Sha256 => "SHA256",
        HashAlg::Sha384 => "SHA384",
        HashAlg::Sha512 => "SHA512",
        HashAlg::Sha1 => "SHA1",
        HashAlg::Md5 => "MD5",
    })
}

/// An `SPDXRef-` identifier: `kind`, the package's position (unique), and its name with every
/// character SPDX does not allow (`[A-Za-z0-9.-]`) made `-`.
fn spdx_id(kind: &str, index: usize, name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{index}-{name}")
}

/// A package entry: name, version, package URL, checksums, and no licence assertion.
fn package(id: &str, name: &str, version: &str, purl: &str, checksums: Vec<Value>) -> Value {
    let mut p = json!({
        "SPDXID": id,
        "name": name,
        "versionInfo": version,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "LIBRARY",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl,
        }],
    });
    if !checksums.is_empty() {
        p["checksums"] = Value::Array(checksums);
    }
    p
}

/// The SBOM document. `s.serial` (a `urn:uuid:`) is its `documentNamespace`.
#[must_use]
pub fn spdx(s: &Subject<'_>, debs: &[DebPackage], python: &[PythonPackage]) -> Value {
    let (alg, digest) = s.id.split_once(':').unwrap_or(("sha256", s.id));
    let mut image = json!({
        "SPDXID": IMAGE_ID,
        "name": s.image,
        "versionInfo": s.id,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(a) = checksum_alg(alg) {
        image["checksums"] = json!([{"algorithm": a, "checksumValue": digest}]);
    }
    let mut packages = vec![image];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": IMAGE_ID,
    })];
    let mut add = |id: String, entry: Value| {
        relationships.push(json!({
            "spdxElementId": IMAGE_ID,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
        packages.push(entry);
    };
    for (i, p) in python.iter().enumerate() {
        let id = spdx_id("python", i, &p.name);
        let checksums = p
            .hashes
            .iter()
            .filter_map(|(alg, v)| {
                checksum_alg(alg).map(|a| json!({"algorithm": a, "checksumValue": v}))
            })
            .collect();
        let entry = package(&id, &p.name, &p.version, &pypi_purl(p), checksums);
        add(id, entry);
    }
    for (i, p) in debs.iter().enumerate() {
        let id = spdx_id("deb", i, &p.name);
        let entry = package(&id, &p.name, &p.version, &deb_purl(s.distro, p), Vec::new());
        add(id, entry);
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": s.image,
        "documentNamespace": s.serial,
        "creationInfo": {
            "created": s.timestamp,
            "creators": [format!("Tool: hangar-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::tests::{packages, subject};

    #[test]
    fn identifiers_keep_only_what_spdx_allows() {
        assert_eq!(spdx_id("deb", 3, "libstdc++6"), "SPDXRef-deb-3-libstdc--6");
        assert_eq!(
            spdx_id("python", 0, "Flask_AppBuilder"),
            "SPDXRef-python-0-Flask-AppBuilder"
        );
    }

    #[test]
    fn the_image_contains_every_package() {
        let (debs, python) = packages();
        let doc = spdx(&subject(), &debs, &python);
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["dataLicense"], "CC0-1.0");
        assert_eq!(
            doc["documentNamespace"],
            "urn:uuid:00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(doc["creationInfo"]["created"], "2026-12-03T00:00:00Z");
        let p = doc["packages"].as_array().unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0]["SPDXID"], IMAGE_ID);
        assert_eq!(p[0]["primaryPackagePurpose"], "CONTAINER");
        assert_eq!(
            p[0]["checksums"],
            json!([{"algorithm": "SHA256", "checksumValue": "abc123"}])
        );
        assert_eq!(
            p[1]["externalRefs"][0]["referenceLocator"],
            "pkg:pypi/apache-airflow@3.3.2"
        );
        assert_eq!(
            p[1]["checksums"],
            json!([{"algorithm": "SHA256", "checksumValue": "ff00"}])
        );
        assert!(p[2].get("checksums").is_none());
        assert_eq!(
            p[3]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64"
        );
        let r = doc["relationships"].as_array().unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0]["relationshipType"], "DESCRIBES");
        let contained: Vec<&str> = r[1..]
            .iter()
            .map(|r| r["relatedSpdxElement"].as_str().unwrap())
            .collect();
        let ids: Vec<&str> = p[1..]
            .iter()
            .map(|p| p["SPDXID"].as_str().unwrap())
            .collect();
        assert_eq!(contained, ids);
        let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len());
    }
}
