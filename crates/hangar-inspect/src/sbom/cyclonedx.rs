//! CycloneDX 1.5 JSON: the image as the described component, each package a library.

use serde_json::{Value, json};

use super::{HashAlg, Subject, deb_purl, pypi_purl};
use crate::packages::{DebPackage, PythonPackage};

/// CycloneDX's name of a hash algorithm.
fn hash_alg(alg: &str) -> Option<&'static str> {
    HashAlg::parse(alg).map(|a| match a {
        HashAlg::Sha256 => "SHA-256",
        HashAlg::Sha384 => "SHA-384",
        HashAlg::Sha512 => "SHA-512",
        HashAlg::Sha1 => "SHA-1",
        HashAlg::Md5 => "MD5",
    })
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
    use crate::sbom::tests::{packages, subject};

    #[test]
    fn the_document_lists_the_image_and_every_package() {
        let (debs, python) = packages();
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
