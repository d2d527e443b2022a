//! The `pip download` command lines of a download (pure), the default platform tags of the
//! target, and the requirement pip names when it finds no wheel.

use std::path::Path;

/// The glibc of the Debian release the images are built on (bookworm).
pub const TARGET_GLIBC_MINOR: u32 = 36;

/// The manylinux tags a Debian bookworm image on `arch` (Rust's `std::env::consts::ARCH`
/// spelling) accepts, newest first. pip does not widen a `manylinux_2_36` tag to older ones
/// by itself, so each is given.
#[must_use]
pub fn default_platforms(arch: &str) -> Vec<String> {
    let oldest = if arch == "x86_64" { 5 } else { 17 };
    let mut out: Vec<String> = (oldest..=TARGET_GLIBC_MINOR)
        .rev()
        .map(|minor| format!("manylinux_2_{minor}_{arch}"))
        .collect();
    out.push(format!("manylinux2014_{arch}"));
    if arch == "x86_64" {
        out.push(format!("manylinux2010_{arch}"));
        out.push(format!("manylinux1_{arch}"));
    }
    out
}

/// The CPython ABI tag of a `major.minor` version (`3.11` → `cp311`), if it is one.
#[must_use]
pub fn abi(python: &str) -> Option<String> {
    let (major, minor) = python.split_once('.')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (ok(major) && ok(minor)).then(|| format!("cp{major}{minor}"))
}

/// One `pip download` of wheels only, for the target Python and platforms.
#[derive(Debug, Clone)]
pub struct Download<'a> {
    /// Target `major.minor`.
    pub python: &'a str,
    pub platforms: &'a [String],
    pub requirements: &'a [String],
    pub constraints: Option<&'a Path>,
    /// Folder of wheels the user built, taken before the index.
    pub find_links: Option<&'a Path>,
    pub no_deps: bool,
    pub dest: &'a Path,
}

/// The arguments after `python3 -m pip`.
#[must_use]
pub fn pip_args(d: &Download<'_>) -> Vec<String> {
    let mut a: Vec<String> = [
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "--only-binary",
        ":all:",
        "--implementation",
        "cp",
        "--python-version",
    ]
    .map(str::to_owned)
    .into();
    a.push(d.python.to_owned());
    if let Some(abi) = abi(d.python) {
        a.push("--abi".into());
        a.push(abi);
    }
    for p in d.platforms {
        a.push("--platform".into());
        a.push(p.clone());
    }
    a.push("--dest".into());
    a.push(d.dest.display().to_string());
    if let Some(dir) = d.find_links {
        a.push("--find-links".into());
        a.push(dir.display().to_string());
    }
    if let Some(c) = d.constraints {
        a.push("--constraint".into());
        a.push(c.display().to_string());
    }
    if d.no_deps {
        a.push("--no-deps".into());
    }
    a.extend(d.requirements.iter().cloned());
    a
}

/// The requirement pip could not find a wheel for, from its error output.
#[must_use]
pub fn missing_requirement(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("ERROR: No matching distribution found for ")
            .or_else(|| {
                l.strip_prefix("ERROR: Could not find a version that satisfies the requirement ")
                    .map(|r| r.split(" (").next().unwrap_or(r))
            })
            .map(|r| r.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_of_bookworm() {
        let p = default_platforms("x86_64");
        assert_eq!(p[0], "manylinux_2_36_x86_64");
        assert!(p.contains(&"manylinux_2_17_x86_64".to_owned()));
        assert!(p.contains(&"manylinux_2_5_x86_64".to_owned()));
        assert_eq!(p.last().unwrap(), "manylinux1_x86_64");
        let p = default_platforms("aarch64");
        assert_eq!(p.last().unwrap(), "manylinux2014_aarch64");
        assert!(!p.iter().any(|t| t.contains("_2_16_")));
    }

    #[test]
    fn abi_tags() {
        assert_eq!(abi("3.11").as_deref(), Some("cp311"));
        assert_eq!(abi("3.12").as_deref(), Some("cp312"));
        assert_eq!(abi("3"), None);
        assert_eq!(abi("3.x"), None);
    }

    #[test]
    fn the_command_line_asks_for_wheels_of_the_target_only() {
        let platforms = vec!["manylinux_2_36_x86_64".to_owned()];
        let reqs = vec!["apache-airflow[celery]==3.3.2".to_owned()];
        let a = pip_args(&Download {
            python: "3.11",
            platforms: &platforms,
            requirements: &reqs,
            constraints: Some(Path::new("/s/constraints.txt")),
            find_links: Some(Path::new("/out")),
            no_deps: false,
            dest: Path::new("/s"),
        });
        let line = a.join(" ");
        assert!(line.starts_with("download "), "{line}");
        for part in [
            "--only-binary :all:",
            "--python-version 3.11 --abi cp311",
            "--platform manylinux_2_36_x86_64",
            "--dest /s",
            "--find-links /out",
            "--constraint /s/constraints.txt",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        assert!(line.ends_with(" apache-airflow[celery]==3.3.2"), "{line}");
        assert!(!line.contains("--no-deps"));
    }

    #[test]
    fn the_missing_wheel_is_named() {
        let err = "ERROR: Could not find a version that satisfies the requirement \
                   sasl==0.3.1 (from versions: none)\nERROR: No matching distribution found for sasl==0.3.1\n";
        assert_eq!(missing_requirement(err).as_deref(), Some("sasl==0.3.1"));
        assert_eq!(
            missing_requirement("ERROR: No matching distribution found for thrift-sasl\n")
                .as_deref(),
            Some("thrift-sasl")
        );
        assert_eq!(missing_requirement("ERROR: something else"), None);
    }
}
