//! The packages an image holds: Debian's from dpkg's status file, Python's from the image's
//! own `importlib.metadata` (a script run with the image's `python`). Parsers are pure.

use serde::Deserialize;

/// An installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
}

/// An installed Python distribution.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PythonPackage {
    pub name: String,
    pub version: String,
    /// `(algorithm, hex digest)` of the archive it was installed from, when the installer
    /// recorded it (`direct_url.json`).
    #[serde(default)]
    pub hashes: Vec<(String, String)>,
}

/// The path of dpkg's status file.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// The packages of dpkg's status file that are installed (`Status: install ok installed`),
/// sorted by name and architecture.
#[must_use]
pub fn parse_dpkg_status(text: &str) -> Vec<DebPackage> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let field = |name: &str| {
            paragraph.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let (Some(name), Some(version), Some(status)) =
            (field("Package"), field("Version"), field("Status"))
        else {
            continue;
        };
        if !status.ends_with(" installed") {
            continue;
        }
        out.push(DebPackage {
            name: name.to_owned(),
            version: version.to_owned(),
            architecture: field("Architecture").unwrap_or("").to_owned(),
        });
    }
    out.sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
    out
}

/// The marker before the JSON line of [`PYTHON_SCRIPT`].
pub const PYTHON_MARKER: &str = "hangar-sbom-python:";

/// Prints every distribution the image's `python` sees, with the archive hashes its installer
/// recorded, as one JSON line after [`PYTHON_MARKER`].
pub const PYTHON_SCRIPT: &str = r#"
import json, importlib.metadata as md
out = {}
for d in md.distributions():
    name = d.metadata["Name"]
    if not name or name in out:
        continue
    hashes = []
    try:
        info = json.loads(d.read_text("direct_url.json") or "{}").get("archive_info", {})
        for alg, value in (info.get("hashes") or {}).items():
            hashes.append([alg, value])
        if not hashes and "=" in info.get("hash", ""):
            hashes.append(info["hash"].split("=", 1))
    except Exception:
        pass
    out[name] = {"name": name, "version": d.version, "hashes": hashes}
print("hangar-sbom-python:" + json.dumps(sorted(out.values(), key=lambda p: p["name"].lower())))
"#;

/// PEP 503's normalized name (`Apache_Airflow` → `apache-airflow`), as package URLs spell it.
#[must_use]
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: bash\nEssential: yes\nStatus: install ok installed\nPriority: required\n\
Architecture: amd64\nVersion: 5.2.15-2+b7\nDescription: GNU Bourne Again SHell\n Bash is an sh-compatible\n .\n more\n\n\
Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.36-9+deb12u14\n\n\
Package: gcc-12\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 12.2.0-14\n\n\
Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2.36-9+deb12u14\n\
Description: x\n Version: 9 (a continuation line, not a field)\n";

    #[test]
    fn only_installed_packages_are_read() {
        let p = parse_dpkg_status(STATUS);
        let shown: Vec<String> = p
            .iter()
            .map(|p| format!("{}:{}={}", p.name, p.architecture, p.version))
            .collect();
        assert_eq!(
            shown,
            [
                "bash:amd64=5.2.15-2+b7",
                "libc6:amd64=2.36-9+deb12u14",
                "libc6:i386=2.36-9+deb12u14"
            ]
        );
        assert!(parse_dpkg_status("").is_empty());
    }

    #[test]
    fn names_are_normalized_like_pep_503() {
        assert_eq!(normalize("Apache_Airflow"), "apache-airflow");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a--b__c"), "a-b-c");
        assert_eq!(normalize("PyYAML"), "pyyaml");
    }
}
