//! SBOMs of real images: the CycloneDX and SPDX documents `hangar build --sbom` and
//! `hangar sbom` write list exactly what `pip list` and dpkg report inside the image, and name
//! the image's ID; the SPDX one also passes the SPDX project's validator (`pyspdxtools` of
//! `spdx-tools` from PyPI, in a cached venv). Called by the image-build tests, which own the
//! image.

use hangar_testkit::images::run_in_image;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::image_checks::text;
use crate::verify::hangar_on_test_store;

/// PEP 503's name, as the SBOM's package URLs spell it.
fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

/// `name==version` of every Python distribution `pip list` shows in `image`.
fn pip_list(image: &str) -> BTreeSet<String> {
    let out = run_in_image(
        image,
        &[
            "python",
            "-m",
            "pip",
            "list",
            "--format=json",
            "--disable-pip-version-check",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.iter()
        .map(|p| {
            format!(
                "{}=={}",
                normalize(p["name"].as_str().unwrap()),
                p["version"].as_str().unwrap()
            )
        })
        .collect()
}

/// `name:arch=version` of every installed Debian package of `image`.
fn dpkg_list(image: &str) -> BTreeSet<String> {
    let out = run_in_image(
        image,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Abbrev}|${Package}:${Architecture}=${Version}\n",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('|'))
        .filter(|(status, _)| status.starts_with("ii"))
        .map(|(_, p)| p.to_owned())
        .collect()
}

/// The SBOM's components from `manager` (`python` or `dpkg`), as [`pip_list`] and
/// [`dpkg_list`] spell them.
fn components(bom: &serde_json::Value, manager: &str) -> BTreeSet<String> {
    bom["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter(|c| c["properties"][0]["value"] == manager)
        .map(|c| {
            let (name, version) = (c["name"].as_str().unwrap(), c["version"].as_str().unwrap());
            if manager == "python" {
                format!("{}=={version}", normalize(name))
            } else {
                let purl = c["purl"].as_str().unwrap();
                let arch = purl.rsplit_once("?arch=").map_or("", |(_, a)| a);
                format!("{name}:{arch}={version}")
            }
        })
        .collect()
}

/// The SBOM at `path` is a CycloneDX document of `image_id` listing exactly the Python and
/// Debian packages the image reports.
pub(crate) fn assert_sbom_matches(image: &str, image_id: &str, path: &Path) {
    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert!(
        bom["serialNumber"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    let component = &bom["metadata"]["component"];
    assert_eq!(component["type"], "container");
    let id = component["version"].as_str().unwrap();
    assert!(
        id.trim_start_matches("sha256:")
            .starts_with(image_id.trim_start_matches("sha256:")),
        "the SBOM names {id}, the image is {image_id}"
    );
    let python = components(&bom, "python");
    assert_eq!(
        python,
        pip_list(image),
        "Python packages differ from pip list"
    );
    assert!(
        python.iter().any(|p| p.starts_with("apache-airflow==")),
        "{python:?}"
    );
    let debs = components(&bom, "dpkg");
    assert_eq!(
        debs,
        dpkg_list(image),
        "Debian packages differ from dpkg-query"
    );
    assert!(debs.len() > 50, "{debs:?}");
}

/// The SPDX project's validator, pinned.
const SPDX_TOOLS: &str = "spdx-tools==0.8.5";

/// The cached venv holding [`SPDX_TOOLS`]'s `pyspdxtools`.
fn spdx_validator() -> PathBuf {
    let root = hangar_testkit::venvs::cached_venv(
        "sbom-tools",
        &SPDX_TOOLS.replace("==", "-"),
        &[SPDX_TOOLS],
        |root| root.join("bin/pyspdxtools").is_file(),
    );
    root.join("bin/pyspdxtools")
}

/// The SPDX document at `path` passes `pyspdxtools`' validation, describes `image_id` (its
/// `CONTAINER` package's SHA256) and lists exactly the Python and Debian packages the image
/// reports, by their package URLs.
pub(crate) fn assert_spdx_matches(image: &str, image_id: &str, path: &Path) {
    let check = Command::new(spdx_validator())
        .arg("-i")
        .arg(path)
        .output()
        .expect("run pyspdxtools");
    assert!(
        check.status.success(),
        "pyspdxtools finds {} invalid:\n{}",
        path.display(),
        text(&check)
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let packages = doc["packages"].as_array().expect("packages");
    let described = doc["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .find(|r| r["relationshipType"] == "DESCRIBES")
        .and_then(|r| r["relatedSpdxElement"].as_str())
        .expect("a DESCRIBES relationship");
    let container = packages
        .iter()
        .find(|p| p["SPDXID"] == described)
        .expect("the described package");
    assert_eq!(container["primaryPackagePurpose"], "CONTAINER");
    let digest = container["checksums"][0]["checksumValue"].as_str().unwrap();
    assert!(
        digest.starts_with(image_id.trim_start_matches("sha256:")),
        "the SPDX document names {digest}, the image is {image_id}"
    );
    let purls: Vec<&str> = packages
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .collect();
    let python: BTreeSet<String> = purls
        .iter()
        .filter_map(|p| p.strip_prefix("pkg:pypi/"))
        .map(|p| p.replacen('@', "==", 1))
        .collect();
    assert_eq!(
        python,
        pip_list(image),
        "Python packages differ from pip list"
    );
    let debs: BTreeSet<String> = purls
        .iter()
        .filter_map(|p| p.strip_prefix("pkg:deb/debian/"))
        .map(|p| {
            let (name_version, arch) = p.split_once("?arch=").unwrap_or((p, ""));
            let (name, version) = name_version.split_once('@').unwrap();
            format!("{}:{arch}={}", unescape(name), unescape(version))
        })
        .collect();
    assert_eq!(
        debs,
        dpkg_list(image),
        "Debian packages differ from dpkg-query"
    );
}

/// A package URL's `%XX` escapes decoded.
fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `hangar sbom --engine ENGINE [--format FORMAT] IMAGE -o PATH` on the test kit's store
/// succeeds.
pub(crate) fn hangar_sbom(engine: &str, format: &str, image: &str, path: &Path) {
    let out = hangar_on_test_store()
        .args(["sbom", "--engine", engine, "--format", format, image, "-o"])
        .arg(path)
        .output()
        .expect("run hangar sbom");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Debian and"), "{}", text(&out));
}
