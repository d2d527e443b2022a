//! Throwaway TLS certificates for test servers: a CA, and a server certificate it signs for
//! `localhost` and `127.0.0.1` (what rustls needs to check a chain and a host name).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require_program;

/// The files [`make`] writes.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA certificate (PEM): the trusted root a client is given.
    pub ca: PathBuf,
    /// The server certificate (PEM), signed by the CA.
    pub cert: PathBuf,
    /// The server's private key (PEM, unencrypted, mode 0600).
    pub key: PathBuf,
}

/// Writes a CA and a server certificate into `dir` with the `openssl` CLI.
pub fn make(dir: &Path) -> TestCerts {
    let openssl = require_program("openssl", "openssl", &[]);
    let p = |name: &str| dir.join(name);
    let run = |what: &str, args: &[&str]| {
        crate::run_checked(
            &format!("openssl {what}"),
            Command::new(&openssl).args(args).current_dir(dir),
        );
    };
    run(
        "req (CA)",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=hangar test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    run(
        "req (server)",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    fs::write(
        p("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    run(
        "x509 (sign)",
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p("server.key"), fs::Permissions::from_mode(0o600))
        .expect("chmod server.key");
    TestCerts {
        ca: p("ca.pem"),
        cert: p("server.crt"),
        key: p("server.key"),
    }
}
