//! `hangar sbom IMAGE`: reads the image's packages through the engine and writes the SBOM.

use hangar_build::in_image::{self, ScriptOutcome};
use serde_json::Value;

use crate::packages::{self, PythonPackage};
use crate::sbom::{self, Subject};
use crate::{Runner, VerifyError};

/// The separator between `/etc/os-release`'s `ID` and dpkg's status in the package run.
const SEPARATOR: &str = "hangar-sbom-dpkg-status:";

/// What the SBOM run found besides the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomSummary {
    pub debian: usize,
    pub python: usize,
    /// Why no Python packages are listed, when none are.
    pub python_missing: Option<String>,
}

impl Runner {
    /// The SBOM of `image` in `format`, stamped `timestamp` (RFC 3339) with serial `serial`
    /// (a `urn:uuid:`; SPDX's document namespace).
    ///
    /// # Errors
    /// The image cannot be inspected or run, or has neither dpkg's status nor a Python.
    pub fn sbom(
        &self,
        image: &str,
        format: sbom::Format,
        timestamp: &str,
        serial: &str,
    ) -> Result<(Value, SbomSummary), VerifyError> {
        let (cfg, _) = self.config(image)?;
        let script = format!(
            "sed -n 's/^ID=//p' /etc/os-release 2>/dev/null | tr -d '\"'; echo '{SEPARATOR}'; cat {} 2>/dev/null",
            packages::DPKG_STATUS
        );
        let out =
            in_image::run(&self.in_image(image, vec!["sh".into(), "-c".into(), script], None))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (distro, status) = stdout.split_once(SEPARATOR).unwrap_or(("", ""));
        let distro = distro.trim();
        let debs = packages::parse_dpkg_status(status);

        let mut runner = self.in_image(image, Vec::new(), None);
        runner.env.clear();
        let (python, python_missing) = match in_image::run_python::<Vec<PythonPackage>>(
            &runner,
            image,
            packages::PYTHON_SCRIPT,
            &[],
            Vec::new(),
            packages::PYTHON_MARKER,
        )? {
            ScriptOutcome::Result(list) => (list, None),
            ScriptOutcome::NoResult { status, tail } => (
                Vec::new(),
                Some(format!(
                    "`python` in the image gave no package list ({status}): {tail}"
                )),
            ),
        };
        if debs.is_empty() && python.is_empty() {
            return Err(VerifyError::NoPackages {
                image: image.to_owned(),
                detail: python_missing.unwrap_or_default(),
            });
        }
        let subject = Subject {
            image,
            id: &cfg.id,
            distro: if distro.is_empty() { "debian" } else { distro },
            timestamp,
            serial,
        };
        let summary = SbomSummary {
            debian: debs.len(),
            python: python.len(),
            python_missing,
        };
        Ok((sbom::document(format, &subject, &debs, &python), summary))
    }
}

/// A random (version 4) `urn:uuid:` serial number for a new SBOM.
///
/// # Errors
/// The system has no randomness to give.
pub fn new_serial() -> Result<String, std::io::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(serial_from(b))
}

fn serial_from(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_version_4_uuids() {
        assert_eq!(
            serial_from([0xff; 16]),
            "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        let a = new_serial().unwrap();
        assert_ne!(a, new_serial().unwrap());
        assert_eq!(a.len(), "urn:uuid:".len() + 36);
    }
}
