//! The DAG check: every DAG file imported inside an image, with the image's own Airflow (its
//! `DagBag`), and a failure for each file that does not import. Airflow's CLI reports import
//! errors but exits 0; this check exits non-zero and names each broken file with its error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::Engine;
use crate::in_image::{self, InImage, InImageError, ScriptOutcome};

/// The script run in the image (Python 3.8+, Airflow 2 and 3).
pub const SCRIPT: &str = include_str!("check_dags.py");
/// The prefix of the script's result line.
const MARKER: &str = "HANGAR-DAG-CHECK ";
/// Where a host folder of DAGs is mounted.
pub const MOUNTED_DAGS: &str = "/tmp/hangar-check-dags";
/// Lines of each import error shown (its end: the exception and where it was raised).
const ERROR_LINES: usize = 6;

/// What the script found.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DagReport {
    /// The folder checked, in the image.
    pub folder: String,
    /// DAG id → file (relative to the folder).
    pub dags: BTreeMap<String, String>,
    /// File (relative to the folder) → import error.
    pub errors: BTreeMap<String, String>,
}

/// Errors of the check.
#[derive(Debug, thiserror::Error)]
pub enum CheckDagsError {
    #[error(transparent)]
    Run(#[from] InImageError),
    #[error(
        "the DAG check could not run in {image} ({status}); its output ends with:\n{tail}\n\
         The image needs Airflow importable by `python` on its PATH"
    )]
    NoReport {
        image: String,
        status: String,
        tail: String,
    },
    #[error("{}", broken_message(.image, .report))]
    Broken { image: String, report: DagReport },
}

fn broken_message(image: &str, r: &DagReport) -> String {
    let mut s = format!(
        "{} DAG file(s) in {} do not import with the Airflow of {image}:",
        r.errors.len(),
        r.folder
    );
    for (file, err) in &r.errors {
        s.push_str(&format!("\n  {file}:"));
        // Frames of Python's import machinery say nothing about the DAG file.
        let lines: Vec<&str> = err
            .trim_end()
            .lines()
            .filter(|l| {
                !l.starts_with("Traceback (") && !l.trim_start().starts_with("File \"<frozen ")
            })
            .collect();
        for l in &lines[lines.len().saturating_sub(ERROR_LINES)..] {
            s.push_str(&format!("\n      {l}"));
        }
    }
    s.push_str(
        "\nFix these files, or list the ones that are no DAGs in the folder's .airflowignore",
    );
    s
}

/// Reads the script's result line from its standard output (Airflow may log there too).
#[must_use]
pub fn parse(stdout: &str) -> Option<DagReport> {
    in_image::marked_json(stdout, MARKER)
}

/// Runs the check in `image` with the engine settings of `runner`, on the image's `[core]
/// dags_folder`, or on the host folder `dags` mounted read-only.
///
/// # Errors
/// The engine or the script cannot run, or a DAG file does not import.
pub fn check(
    runner: &InImage,
    image: &str,
    dags: Option<&Path>,
) -> Result<DagReport, CheckDagsError> {
    let mut mounts = Vec::new();
    let mut args = Vec::new();
    if let Some(dir) = dags {
        let dir: PathBuf = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        mounts.push((dir, MOUNTED_DAGS.to_owned()));
        args.push(MOUNTED_DAGS.to_owned());
    }
    let host = mounts.first().map(|(h, _)| h.display().to_string());
    let mut report: DagReport =
        match in_image::run_python(runner, image, SCRIPT, &args, mounts, MARKER)? {
            ScriptOutcome::Result(r) => r,
            ScriptOutcome::NoResult { status, tail } => {
                return Err(CheckDagsError::NoReport {
                    image: image.to_owned(),
                    status,
                    tail,
                });
            }
        };
    // Name a mounted folder as the user knows it.
    if let Some(host) = host {
        report.folder.clone_from(&host);
        for err in report.errors.values_mut() {
            *err = err.replace(MOUNTED_DAGS, &host);
        }
    }
    if report.errors.is_empty() {
        Ok(report)
    } else {
        Err(CheckDagsError::Broken {
            image: image.to_owned(),
            report,
        })
    }
}

/// A preparation for [`check`] with `engine`'s settings and nothing to run yet.
#[must_use]
pub fn runner(
    engine: Engine,
    storage_driver: Option<String>,
    isolation: Option<String>,
) -> InImage {
    InImage {
        engine,
        storage_driver,
        isolation,
        image: String::new(),
        mounts: Vec::new(),
        argv: Vec::new(),
        user: None,
        env: Vec::new(),
    }
}

/// One line summing up a passed check.
#[must_use]
pub fn summary(r: &DagReport) -> String {
    let ids: Vec<&str> = r.dags.keys().map(String::as_str).collect();
    format!(
        "DAG check passed: {} DAG(s) in {} import ({})",
        ids.len(),
        r.folder,
        if ids.is_empty() {
            "none found".to_owned()
        } else {
            ids.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_line_is_found_among_airflows_logs() {
        let out = "2026 [info] Filling up the DagBag\nHANGAR-DAG-CHECK {\"folder\": \"/opt/airflow/dags\", \
                   \"dags\": {\"hello\": \"hello.py\"}, \"errors\": {}}\n";
        let r = parse(out).unwrap();
        assert_eq!(r.dags["hello"], "hello.py");
        assert_eq!(
            summary(&r),
            "DAG check passed: 1 DAG(s) in /opt/airflow/dags import (hello)"
        );
        assert!(parse("no marker\n").is_none());
        assert!(parse("HANGAR-DAG-CHECK {not json\n").is_none());
    }

    #[test]
    fn a_broken_file_is_named_with_the_end_of_its_error() {
        let mut errors = BTreeMap::new();
        let tb = "Traceback (most recent call last):\n  a\n  b\n  c\n  d\n  File \"<frozen importlib._bootstrap>\", line 241, in _call\n  File \"/x/missing.py\", line 2\n    import nope\nModuleNotFoundError: No module named 'nope'\n";
        errors.insert("missing.py".to_owned(), tb.to_owned());
        let e = CheckDagsError::Broken {
            image: "img".into(),
            report: DagReport {
                folder: "/opt/airflow/dags".into(),
                dags: BTreeMap::new(),
                errors,
            },
        };
        let msg = e.to_string();
        assert!(msg.starts_with("1 DAG file(s) in /opt/airflow/dags do not import with the Airflow of img:\n  missing.py:"), "{msg}");
        assert!(
            msg.contains("      ModuleNotFoundError: No module named 'nope'"),
            "{msg}"
        );
        assert!(
            !msg.contains("Traceback"),
            "only the end of the error: {msg}"
        );
        assert!(msg.ends_with(".airflowignore"));
    }
}
