//! Credential detection: build args are recorded in the image history, so a value that
//! looks like it carries a secret is refused, and values shown in errors and logs are masked.

/// Said when the context files hold a `.pypirc` and nothing else configures pip's index: the
/// seed's file is read by upload tools (twine), never by pip or uv.
pub const PYPIRC_ONLY_WARNING: &str = "docker-context-files/.pypirc is read by upload tools such as twine, not by pip or uv, \
     so the build uses the default index; put the index in docker-context-files/pip.conf \
     (`[global]` `index-url = ...`) or pass --pip-conf / --pip-index-url";

/// True when `value` looks like it carries a credential: a URL with `user:password@`, a
/// `token=`/`password=`-style assignment, an `Authorization`/bearer header, or a well-known
/// token prefix.
pub fn looks_like_credential(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    for word in value.split_whitespace() {
        if let Some((_, after_scheme)) = word.split_once("://") {
            let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
            if let Some((userinfo, _)) = authority.rsplit_once('@')
                && (userinfo.contains(':') || userinfo.len() >= 20)
            {
                return true;
            }
        }
    }
    const KEYS: &[&str] = &[
        "password=",
        "passwd=",
        "pwd=",
        "token=",
        "secret=",
        "api_key=",
        "apikey=",
        "api-key=",
        "access_key",
        "secret_key",
        "private_token",
        "authorization:",
        "bearer ",
    ];
    if KEYS.iter().any(|k| lower.contains(k)) {
        return true;
    }
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "npm_",
    ];
    value
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|w| {
            PREFIXES
                .iter()
                .any(|p| w.starts_with(p) && w.len() >= p.len() + 16)
                || (w.len() == 20
                    && w.starts_with("AKIA")
                    && w[4..]
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        })
}

/// The 1-based numbers of the lines of `text` that look like they carry a credential (see
/// [`looks_like_credential`]), for files that would be kept in an image, such as apt sources.
/// Comment lines count too: an image keeps them as well.
pub fn credential_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| looks_like_credential(line))
        .map(|(i, _)| i + 1)
        .collect()
}

/// `value` with URL passwords replaced by `***` and anything credential-like hidden, for
/// error messages and logs.
pub fn mask_credentials(value: &str) -> String {
    if !looks_like_credential(value) {
        return value.to_owned();
    }
    let masked: Vec<String> = value
        .split(' ')
        .map(|word| {
            if let Some((scheme, after)) = word.split_once("://") {
                let (authority, path) =
                    after.split_at(after.find(['/', '?', '#']).unwrap_or(after.len()));
                if let Some((userinfo, host)) = authority.rsplit_once('@') {
                    let user = userinfo.split(':').next().unwrap_or("");
                    let shown = if userinfo.contains(':') {
                        format!("{user}:***")
                    } else {
                        "***".into()
                    };
                    return format!("{scheme}://{shown}@{host}{path}");
                }
                word.to_owned()
            } else if looks_like_credential(word) {
                "***".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect();
    masked.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_detected_and_masked() {
        for v in [
            "https://user:s3cret@pypi.example.com/simple",
            "https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/x.tar.gz",
            "token=abc",
            "PASSWORD=abc",
            "Authorization: Bearer abc",
            "AKIAABCDEFGHIJKLMNOP",
            "glpat-abcdefghijklmnopqrstu",
        ] {
            assert!(looks_like_credential(v), "{v}");
        }
        for v in [
            "https://pypi.org/simple",
            "git+https://git@github.com/a/b",
            "postgres,celery",
            "tokenizers==0.15",
        ] {
            assert!(!looks_like_credential(v), "{v}");
        }
        assert_eq!(
            mask_credentials("https://user:s3cret@pypi.example.com/simple"),
            "https://user:***@pypi.example.com/simple"
        );
    }

    #[test]
    fn credential_lines_are_numbered_from_one() {
        let text = "Types: deb\nURIs: https://me:s3cret@mirror.corp/debian\n# token=abc\nSuites: bookworm\n";
        assert_eq!(credential_lines(text), [2, 3]);
        assert!(credential_lines("deb http://mirror.corp/debian bookworm main\n").is_empty());
    }
}
