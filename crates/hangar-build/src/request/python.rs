//! The image's Python: its version and the base image the build starts from.

use super::args::Derived;
use super::error::{ResolveError, invalid};
use crate::options::BuildOptions;

/// Sets `PYTHON_MAJOR_MINOR_VERSION` from `--python` and `PYTHON_BASE_IMAGE`: the one given,
/// else the Debian slim image of that Python.
pub(super) fn python(o: &BuildOptions, d: &mut Derived) -> Result<(), ResolveError> {
    if let Some(p) = &o.python {
        let ok = p.value.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && (a.chars().chain(b.chars())).all(|c| c.is_ascii_digit())
        });
        if !ok {
            return Err(invalid(
                p,
                "expected a Python version MAJOR.MINOR, e.g. 3.12",
            ));
        }
        d.set("PYTHON_MAJOR_MINOR_VERSION", &p.value, &p.origin);
        if o.python_base_image.is_none() {
            d.set(
                "PYTHON_BASE_IMAGE",
                format!("python:{}-slim-bookworm", p.value),
                &p.origin,
            );
        }
    }
    if let Some(b) = &o.python_base_image {
        if b.value.trim().is_empty() || b.value.contains(char::is_whitespace) {
            return Err(invalid(
                b,
                "expected an image name such as python:3.12-slim-bookworm",
            ));
        }
        d.set("PYTHON_BASE_IMAGE", &b.value, &b.origin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Origin, RawOptions};
    use crate::request::tests::{flags, value};

    fn derive(raw: RawOptions) -> Result<Derived, ResolveError> {
        let mut d = Derived::default();
        python(&flags(raw), &mut d).map(|()| d)
    }

    #[test]
    fn the_version_implies_the_base_image() {
        let d = derive(RawOptions {
            python: Some("3.12".into()),
            ..RawOptions::default()
        })
        .unwrap();
        assert_eq!(value(&d, "PYTHON_MAJOR_MINOR_VERSION"), Some("3.12"));
        assert_eq!(
            value(&d, "PYTHON_BASE_IMAGE"),
            Some("python:3.12-slim-bookworm")
        );
        assert_eq!(
            d.0["PYTHON_BASE_IMAGE"].origin,
            Origin::Flag("--python".into())
        );
    }

    #[test]
    fn a_given_base_image_wins() {
        let d = derive(RawOptions {
            python: Some("3.11".into()),
            python_base_image: Some("localhost/py:3.11".into()),
            ..RawOptions::default()
        })
        .unwrap();
        assert_eq!(value(&d, "PYTHON_BASE_IMAGE"), Some("localhost/py:3.11"));
        assert_eq!(
            d.0["PYTHON_BASE_IMAGE"].origin,
            Origin::Flag("--python-base-image".into())
        );
    }

    #[test]
    fn nothing_given_sets_nothing() {
        assert!(derive(RawOptions::default()).unwrap().0.is_empty());
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in ["3", "3.", ".12", "3.x", "three.twelve"] {
            let err = derive(RawOptions {
                python: Some(bad.into()),
                ..RawOptions::default()
            })
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("MAJOR.MINOR") && err.contains("--python"),
                "{err}"
            );
        }
        for bad in ["", "  ", "python 3.12"] {
            let err = derive(RawOptions {
                python_base_image: Some(bad.into()),
                ..RawOptions::default()
            })
            .unwrap_err()
            .to_string();
            assert!(err.contains("--python-base-image"), "{err}");
        }
    }
}
