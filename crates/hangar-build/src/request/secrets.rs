//! The build secrets: a CA bundle, a pip.conf and a .netrc, checked and mounted by id.

use super::error::{ResolveError, invalid_path};
use super::{SECRET_CA, SECRET_NETRC, SECRET_PIP_CONF};
use crate::engine::SecretFile;
use crate::options::{BuildOptions, Origin};

/// The secret files given, each readable and not empty (a CA bundle holding a certificate),
/// with absolute paths.
pub(super) fn secrets(o: &BuildOptions) -> Result<Vec<(SecretFile, Origin)>, ResolveError> {
    let mut secrets = Vec::new();
    for (opt, id) in [
        (&o.ca_bundle, SECRET_CA),
        (&o.pip_conf, SECRET_PIP_CONF),
        (&o.netrc, SECRET_NETRC),
    ] {
        let Some(p) = opt else { continue };
        let text =
            std::fs::read(&p.value).map_err(|e| invalid_path(p, format!("cannot read it: {e}")))?;
        if text.is_empty() {
            return Err(invalid_path(p, "the file is empty"));
        }
        if id == SECRET_CA
            && !text
                .windows(27)
                .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(invalid_path(
                p,
                "no PEM certificate in it; give a CA bundle such as /etc/ssl/certs/ca-certificates.crt",
            ));
        }
        let src = std::path::absolute(&p.value).unwrap_or_else(|_| p.value.clone());
        secrets.push((
            SecretFile {
                id: id.to_owned(),
                src,
            },
            p.origin.clone(),
        ));
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawOptions;
    use crate::request::tests::flags;

    #[test]
    fn secrets_in_a_fixed_order_with_their_origins() {
        let dir = tempfile::tempdir().unwrap();
        let netrc = dir.path().join("netrc");
        let pip = dir.path().join("pip.conf");
        std::fs::write(&netrc, "machine idx login u password p\n").unwrap();
        std::fs::write(&pip, "[global]\n").unwrap();
        let got = secrets(&flags(RawOptions {
            netrc: Some(netrc.clone()),
            pip_conf: Some(pip.clone()),
            ..RawOptions::default()
        }))
        .unwrap();
        assert_eq!(
            got,
            [
                (
                    SecretFile {
                        id: SECRET_PIP_CONF.into(),
                        src: pip
                    },
                    Origin::Flag("--pip-conf".into())
                ),
                (
                    SecretFile {
                        id: SECRET_NETRC.into(),
                        src: netrc
                    },
                    Origin::Flag("--netrc".into())
                ),
            ]
        );
    }

    #[test]
    fn unreadable_empty_or_certificate_less_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        let bad_ca = dir.path().join("ca.pem");
        std::fs::write(&bad_ca, "hello").unwrap();
        for (raw, needle) in [
            (
                RawOptions {
                    pip_conf: Some(dir.path().join("missing")),
                    ..RawOptions::default()
                },
                "cannot read it",
            ),
            (
                RawOptions {
                    netrc: Some(empty),
                    ..RawOptions::default()
                },
                "the file is empty",
            ),
            (
                RawOptions {
                    ca_bundle: Some(bad_ca),
                    ..RawOptions::default()
                },
                "no PEM certificate",
            ),
        ] {
            let err = secrets(&flags(raw)).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }
}
