//! The Debian packages of both stages, downloaded with their dependencies in a container of
//! the base image (so for its release and what it already has), as `.deb` files.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use hangar_build::in_image::{self, InImage};
use hangar_install::apt;

use crate::DownloadError;

/// A package name apt takes as one (`name`, `name=version`, `name:arch`), never an option.
#[must_use]
pub fn valid_name(p: &str) -> bool {
    p.starts_with(|c: char| c.is_ascii_alphanumeric())
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.:=~_".contains(&b))
}

/// The script run in the container: refresh the lists, download the packages and what they
/// need (nothing is installed), and write the `.deb` files to standard output as a tar.
#[must_use]
pub fn script(packages: &[String]) -> String {
    format!(
        "set -eu\nexport DEBIAN_FRONTEND=noninteractive\napt-get update -q >&2\n\
         d=/tmp/hangar-debs; rm -rf \"$d\"; mkdir -p \"$d/partial\"\n\
         apt-get install -y -q --download-only --no-install-recommends -o Dir::Cache::Archives=\"$d\" {} >&2\n\
         cd \"$d\"; set -- *.deb; [ -e \"$1\" ] || exit 0; tar -cf - \"$@\"\n",
        packages.join(" ")
    )
}

/// Whether the base image's Python is Debian's (the build stage then adds `python3-dev`).
///
/// # Errors
/// The engine cannot run the image.
pub fn distro_python(base: &InImage) -> Result<bool, DownloadError> {
    let x = InImage {
        argv: vec!["test".into(), "-e".into(), apt::DISTRO_PYTHON_MARK.into()],
        ..base.clone()
    };
    Ok(in_image::run(&x)?.status.success())
}

/// Downloads `packages` (and their dependencies) in a container of the base image into `dest`.
/// Returns how many `.deb` files were written.
///
/// # Errors
/// A package name is not one, the download fails, or the files cannot be written.
pub fn download(
    base: &InImage,
    stage: &str,
    packages: &[String],
    dest: &Path,
) -> Result<usize, DownloadError> {
    if let Some(bad) = packages.iter().find(|p| !valid_name(p)) {
        return Err(DownloadError::Input {
            input: format!("the {stage} apt packages"),
            problem: format!("{bad:?} is not a Debian package name"),
            fix: "check *_APT_DEPS and ADDITIONAL_*_APT_DEPS".into(),
        });
    }
    let x = InImage {
        argv: vec!["sh".into(), "-c".into(), script(packages)],
        ..base.clone()
    };
    let out = in_image::run(&x)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        return Err(DownloadError::Step {
            what: format!("downloading the {stage} apt packages in {}", base.image),
            status: out.status.to_string(),
            tail: lines[lines.len().saturating_sub(8)..].join("\n"),
            fix: "check the package names against the base image's Debian release, and that \
                  the base image reaches its apt sources"
                .into(),
        });
    }
    std::fs::create_dir_all(dest).map_err(|source| DownloadError::Write {
        path: dest.to_path_buf(),
        source,
    })?;
    if !out.stdout.is_empty() {
        untar(&out.stdout, dest)?;
    }
    Ok(std::fs::read_dir(dest)
        .map_err(|source| DownloadError::Write {
            path: dest.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".deb"))
        .count())
}

fn untar(bytes: &[u8], dest: &Path) -> Result<(), DownloadError> {
    let spawn = |source| DownloadError::Spawn {
        program: "tar".into(),
        fix: "install it with `apt-get install tar`",
        source,
    };
    let mut child = Command::new("tar")
        .arg("-x")
        .arg("--no-same-owner")
        .arg("-C")
        .arg(dest)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(bytes)
            .map_err(|source| DownloadError::Write {
                path: dest.to_path_buf(),
                source,
            })?;
    }
    let out = child.wait_with_output().map_err(spawn)?;
    if !out.status.success() {
        return Err(DownloadError::Step {
            what: format!("unpacking the downloaded packages into {}", dest.display()),
            status: out.status.to_string(),
            tail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            fix: "check the free space and permissions of the output folder".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_options() {
        for ok in [
            "gcc",
            "libpq-dev",
            "g++",
            "libc6:amd64",
            "curl=7.88.1-10+deb12u5",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["-o", "--allow-unauthenticated", "a;b", "a b", "$(x)", ""] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_script_downloads_only_and_tars_to_stdout() {
        let s = script(&["gcc".into(), "libpq-dev".into()]);
        assert!(s.contains("--download-only --no-install-recommends"), "{s}");
        assert!(s.contains(" gcc libpq-dev >&2"), "{s}");
        assert!(s.contains("tar -cf - \"$@\""), "{s}");
        assert!(s.contains("apt-get update -q >&2"), "{s}");
    }
}
