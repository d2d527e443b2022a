//! Where an option's value came from, kept with the value so that `--dry-run` and error
//! messages can name it.

use std::fmt;
use std::path::PathBuf;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag, e.g. `--python`.
    Flag(String),
    /// An environment variable, e.g. `HANGAR_PYTHON`.
    Env(String),
    /// A key of a configuration file.
    File { path: PathBuf, key: String },
    /// Derived by hangar from another option (named in the text).
    Derived(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "flag {name}"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::File { path, key } => write!(f, "`{key}` in {}", path.display()),
            Origin::Derived(what) => write!(f, "{what}"),
        }
    }
}

/// A value with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}
