//! What the extend route needs to know of its base image, read from the image itself (never
//! guessed from a tag or a label): the installed Airflow's version, the image's user and its
//! `AIRFLOW_HOME`, and whether it ships a `constraints.txt`.

use serde::Deserialize;

use crate::in_image::{self, InImage, InImageError, ScriptOutcome};

/// Printed by [`SCRIPT`] in front of its JSON line.
const MARKER: &str = "HANGAR-BASE ";

/// Run with the image's `python` as the image's user: the version of the installed
/// `apache-airflow` distribution, not what any variable or label claims.
pub const SCRIPT: &str = "import json, os\n\
from importlib import metadata\n\
home = os.path.expanduser('~')\n\
print('HANGAR-BASE ' + json.dumps({\n\
    'airflow_version': metadata.version('apache-airflow'),\n\
    'uid': os.getuid(),\n\
    'airflow_home': os.environ.get('AIRFLOW_HOME') or os.path.join(home, 'airflow'),\n\
    'constraints': os.path.isfile(os.path.join(home, 'constraints.txt')),\n\
}))\n";

/// The base image's facts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BaseFacts {
    pub airflow_version: String,
    pub uid: u32,
    pub airflow_home: String,
    pub constraints: bool,
}

/// Errors reading the base image.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(transparent)]
    Run(#[from] InImageError),
    #[error(
        "cannot read the Airflow version of {image}: `python` in the image did not report it \
         ({status}):\n{tail}\nExtend an image with Airflow installed for its `python` (a hangar image or \
         apache/airflow), and check that the image is in the engine's store"
    )]
    NoAirflow {
        image: String,
        status: String,
        tail: String,
    },
}

/// Reads [`SCRIPT`]'s result from its standard output.
#[must_use]
pub fn parse(stdout: &str) -> Option<BaseFacts> {
    in_image::marked_json(stdout, MARKER)
}

/// Runs [`SCRIPT`] in `image` with the engine settings of `runner`.
///
/// # Errors
/// The engine cannot run it, or the image has no Airflow for its `python`.
pub fn read(runner: &InImage, image: &str) -> Result<BaseFacts, BaseError> {
    match in_image::run_python(runner, image, SCRIPT, &[], Vec::new(), MARKER)? {
        ScriptOutcome::Result(facts) => Ok(facts),
        ScriptOutcome::NoResult { status, tail } => Err(BaseError::NoAirflow {
            image: image.to_owned(),
            status,
            tail,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_line_is_read_among_other_output() {
        let out = "warning: something\nHANGAR-BASE {\"airflow_version\": \"3.3.2\", \"uid\": 50000, \
                   \"airflow_home\": \"/opt/airflow\", \"constraints\": true}\n";
        assert_eq!(
            parse(out),
            Some(BaseFacts {
                airflow_version: "3.3.2".into(),
                uid: 50000,
                airflow_home: "/opt/airflow".into(),
                constraints: true,
            })
        );
        assert_eq!(
            parse("Traceback…\nModuleNotFoundError: No module named 'airflow'\n"),
            None
        );
    }

    #[test]
    fn the_script_is_valid_python_text() {
        // The marker the parser looks for is the one the script prints.
        assert!(SCRIPT.contains(&format!("'{MARKER}'")));
        assert!(SCRIPT.lines().all(|l| !l.contains('\t')));
    }
}
