//! SBOMs of real images: the CycloneDX document `hangar build --sbom` and `hangar sbom` write
//! lists exactly what `pip list` and dpkg report inside the image, and names the image's ID.
//! Called by the image-build tests, which own the image.

use hangar_testkit::images::run_in_image;
use std::collections::BTreeSet;
use std::path::Path;

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

/// `hangar sbom --engine ENGINE IMAGE -o PATH` on the test kit's store succeeds.
pub(crate) fn hangar_sbom(engine: &str, image: &str, path: &Path) {
    let out = hangar_on_test_store()
        .args(["sbom", "--engine", engine, image, "-o"])
        .arg(path)
        .output()
        .expect("run hangar sbom");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Debian and"), "{}", text(&out));
}
