//! The build secrets: a CA bundle, a pip.conf and a .netrc, checked and mounted by id, and
//! the package index URLs (which may carry a token), written by hangar as secrets.

use std::path::PathBuf;

use super::args::Derived;
use super::error::{ResolveError, invalid, invalid_path};
use super::{
    SECRET_APT_SOURCES, SECRET_CA, SECRET_EXTRA_INDEX_URL, SECRET_INDEX_URL, SECRET_NETRC,
    SECRET_PIP_CONF,
};
use crate::context::GeneratedSecret;
use crate::engine::SecretFile;
use crate::options::{BuildOptions, Origin, Sourced};

/// `--pip-index-url` and `--pip-extra-index-url` (space-separated URLs), each an `http(s)://`
/// URL, as secrets: pip and uv get them in the steps that install, and no build arg, layer or
/// history entry holds them.
pub(super) fn index_urls(o: &BuildOptions) -> Result<Vec<(GeneratedSecret, Origin)>, ResolveError> {
    let mut out = Vec::new();
    for (opt, id) in [
        (&o.pip_index_url, SECRET_INDEX_URL),
        (&o.pip_extra_index_url, SECRET_EXTRA_INDEX_URL),
    ] {
        let Some(v) = opt else { continue };
        let urls: Vec<&str> = v.value.split_whitespace().collect();
        if urls.is_empty() || (id == SECRET_INDEX_URL && urls.len() > 1) {
            return Err(invalid(
                v,
                "give one package index URL, e.g. https://pypi.example.com/simple",
            ));
        }
        for url in &urls {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|r| r.split('/').next().is_none_or(str::is_empty)) {
                return Err(invalid(
                    v,
                    "not an http:// or https:// URL of a package index, e.g. https://user:token@pypi.example.com/simple",
                ));
            }
        }
        out.push((
            GeneratedSecret {
                id: id.to_owned(),
                contents: urls.join(" "),
            },
            v.origin.clone(),
        ));
    }
    Ok(out)
}

/// The secret files given, each readable and not empty (a CA bundle holding a certificate),
/// with absolute paths.
pub(super) fn secrets(o: &BuildOptions) -> Result<Vec<(SecretFile, Origin)>, ResolveError> {
    let mut secrets = Vec::new();
    for (opt, id) in [
        (&o.ca_bundle, SECRET_CA),
        (&o.pip_conf, SECRET_PIP_CONF),
        (&o.netrc, SECRET_NETRC),
        (&o.apt_sources, SECRET_APT_SOURCES),
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
        if id == SECRET_APT_SOURCES {
            apt_sources_text(o, p, &String::from_utf8_lossy(&text))?;
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

/// `--apt-sources-in-image`: `INSTALL_APT_SOURCES_IN_IMAGE=true`, with the `--apt-sources` file
/// it keeps (whose lines [`secrets`] checks for credentials: the image keeps every one).
pub(super) fn apt_sources_in_image(o: &BuildOptions, d: &mut Derived) -> Result<(), ResolveError> {
    let Some(keep) = o.apt_sources_in_image.as_ref().filter(|b| b.value) else {
        return Ok(());
    };
    if o.apt_sources.is_none() {
        return Err(ResolveError::Needs {
            origin: keep.origin.clone(),
            what: "--apt-sources FILE (the sources the image keeps)".into(),
        });
    }
    d.set("INSTALL_APT_SOURCES_IN_IMAGE", "true", &keep.origin);
    Ok(())
}

/// The checks of the `--apt-sources` file's text: it has an apt source, and, when the image
/// keeps it (`--apt-sources-in-image`), no line that looks like a credential.
fn apt_sources_text(
    o: &BuildOptions,
    p: &Sourced<PathBuf>,
    text: &str,
) -> Result<(), ResolveError> {
    if !has_apt_source(text) {
        return Err(invalid_path(
            p,
            "no apt source in it: give `deb URI SUITE COMPONENTS` lines or deb822 entries \
             (`Types: deb`, `URIs: …`, `Suites: …`, `Components: …`)",
        ));
    }
    let Some(keep) = o.apt_sources_in_image.as_ref().filter(|b| b.value) else {
        return Ok(());
    };
    let lines = hangar_buildargs::credential_lines(text);
    if lines.is_empty() {
        return Ok(());
    }
    let numbers: Vec<String> = lines.iter().map(ToString::to_string).collect();
    Err(invalid_path(
        p,
        format!(
            "line(s) {} look like a credential, and {} keeps the file in the image; take the \
             login out of the URLs (apt reads it from /etc/apt/auth.conf.d) or build without {}",
            numbers.join(", "),
            keep.origin,
            keep.origin
        ),
    ))
}

/// True when `text` has a one-line `deb` entry or a deb822 `URIs:` field.
fn has_apt_source(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .any(|l| l.starts_with("deb ") || l.starts_with("deb-src ") || l.starts_with("URIs:"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawOptions;
    use crate::request::tests::flags;

    #[test]
    fn index_urls_become_secrets_and_bad_ones_are_named() {
        let got = index_urls(&flags(RawOptions {
            pip_index_url: Some("https://__token__:s3cret@pypi.corp/simple".into()),
            pip_extra_index_url: Some(
                " https://a.example/simple  http://127.0.0.1:8080/simple ".into(),
            ),
            ..RawOptions::default()
        }))
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.id, SECRET_INDEX_URL);
        assert_eq!(
            got[0].0.contents,
            "https://__token__:s3cret@pypi.corp/simple"
        );
        assert_eq!(
            got[1].0.contents,
            "https://a.example/simple http://127.0.0.1:8080/simple"
        );
        assert!(!format!("{got:?}").contains("s3cret"), "{got:?}");
        for (index, extra) in [
            (Some("pypi.corp/simple"), None),
            (Some("https:///simple"), None),
            (Some("https://a/simple https://b/simple"), None),
            (None, Some("https://a/simple ftp://b/")),
            (None, Some("  ")),
        ] {
            let e = index_urls(&flags(RawOptions {
                pip_index_url: index.map(str::to_owned),
                pip_extra_index_url: extra.map(str::to_owned),
                ..RawOptions::default()
            }))
            .unwrap_err()
            .to_string();
            assert!(e.contains("--pip-"), "{e}");
        }
        assert!(
            index_urls(&flags(RawOptions::default()))
                .unwrap()
                .is_empty()
        );
    }

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
        let not_sources = dir.path().join("sources.list");
        std::fs::write(&not_sources, "http://mirror.corp/debian\n").unwrap();
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
            (
                RawOptions {
                    apt_sources: Some(not_sources.clone()),
                    ..RawOptions::default()
                },
                "no apt source in it",
            ),
        ] {
            let err = secrets(&flags(raw)).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    #[test]
    fn apt_sources_in_either_form_become_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            (
                "corp.list",
                "# mirror\ndeb http://mirror.corp/debian bookworm main\n",
            ),
            (
                "corp.sources",
                "Types: deb\nURIs: http://mirror.corp/debian\nSuites: bookworm\nComponents: main\n",
            ),
        ] {
            let f = dir.path().join(name);
            std::fs::write(&f, text).unwrap();
            let got = secrets(&flags(RawOptions {
                apt_sources: Some(f.clone()),
                ..RawOptions::default()
            }))
            .unwrap();
            assert_eq!(got[0].0.id, SECRET_APT_SOURCES);
            assert_eq!(got[0].0.src, f);
        }
    }

    #[test]
    fn the_image_keeps_apt_sources_only_given_and_without_credentials() {
        let derive = |raw: RawOptions| {
            let mut d = Derived::default();
            apt_sources_in_image(&flags(raw), &mut d).map(|()| d)
        };
        let err = derive(RawOptions {
            apt_sources_in_image: Some(true),
            ..RawOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--apt-sources-in-image") && err.contains("needs --apt-sources FILE"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("corp.list");
        std::fs::write(
            &f,
            "deb http://mirror.corp/debian bookworm main\ndeb https://me:s3cret@mirror.corp/x bookworm main\n",
        )
        .unwrap();
        let with = |keep| RawOptions {
            apt_sources: Some(f.clone()),
            apt_sources_in_image: Some(keep),
            ..RawOptions::default()
        };
        let err = secrets(&flags(with(true))).unwrap_err().to_string();
        assert!(
            err.contains("line(s) 2 look like a credential") && !err.contains("s3cret"),
            "{err}"
        );
        // Only kept files are checked: as a secret of the build steps, a login is fine.
        assert!(derive(with(false)).unwrap().0.is_empty());
        assert!(secrets(&flags(with(false))).is_ok());
        std::fs::write(&f, "deb http://mirror.corp/debian bookworm main\n").unwrap();
        let d = derive(with(true)).unwrap();
        assert_eq!(
            d.0.get("INSTALL_APT_SOURCES_IN_IMAGE")
                .map(|v| v.value.as_str()),
            Some("true")
        );
    }
}
