//! The build front end: options, validation, engine command lines and progress.
