//! TLS for the probes (`rediss`, `amqps`, PostgreSQL's `sslmode`): rustls with the ring
//! provider, blocking, on the probe's own TCP stream. Certificates are checked the way the
//! Python clients Airflow uses check them, per [`TlsVerify`].

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};

/// Where the trusted roots come from when the URL names no CA file: `SSL_CERT_FILE`, else
/// Debian's bundle (the `ca-certificates` package).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVerify {
    /// Not at all: libpq's `sslmode=require`/`prefer`, Celery's `ssl_cert_reqs=none`.
    None,
    /// The chain up to a trusted root, not the host name: `sslmode=verify-ca`, redis-py's
    /// `ssl_cert_reqs=required` (its default for `rediss://`).
    Chain,
    /// The chain and the host name: `sslmode=verify-full`, `ssl_check_hostname=true`.
    Full,
}

/// TLS settings of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Certificate check.
    pub verify: TlsVerify,
    /// PEM file of trusted roots (`sslrootcert`, `ssl_ca_certs`); `None`: the system's.
    pub ca_file: Option<PathBuf>,
}

impl TlsOptions {
    /// No certificate check.
    pub fn unverified() -> TlsOptions {
        TlsOptions {
            verify: TlsVerify::None,
            ca_file: None,
        }
    }
}

/// A TLS session over the probe's TCP stream.
pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Why a handshake could not be made.
#[derive(Debug)]
pub(crate) enum HandshakeError {
    /// The local settings are unusable (CA file unreadable or empty, bad server name).
    Setup(String),
    /// The server's certificate or the TLS negotiation was refused.
    Tls(rustls::Error),
    /// The connection failed or timed out.
    Io(io::Error),
}

/// Runs the TLS handshake with `host` over `sock` (whose timeouts are already set).
pub(crate) fn connect(
    sock: TcpStream,
    host: &str,
    opts: &TlsOptions,
) -> Result<TlsStream, HandshakeError> {
    let config = cached_config(opts)?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        HandshakeError::Setup(format!("{host} is not a valid TLS server name: {e}"))
    })?;
    let conn = ClientConnection::new(config, name).map_err(HandshakeError::Tls)?;
    let mut tls = StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            return Err(
                match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(t) => HandshakeError::Tls(t.clone()),
                    None => HandshakeError::Io(e),
                },
            );
        }
    }
    Ok(tls)
}

/// The client configuration for `opts`, made once per process: a wait may poll many times a
/// second, and reading a CA bundle for each attempt would be wasted work.
fn cached_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, HandshakeError> {
    static CONFIGS: Mutex<Vec<(TlsOptions, Arc<ClientConfig>)>> = Mutex::new(Vec::new());
    let mut configs = CONFIGS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, c)) = configs.iter().find(|(o, _)| o == opts) {
        return Ok(c.clone());
    }
    let config = Arc::new(client_config(opts)?);
    configs.push((opts.clone(), config.clone()));
    Ok(config)
}

fn client_config(opts: &TlsOptions) -> Result<ClientConfig, HandshakeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(HandshakeError::Tls)?;
    Ok(match opts.verify {
        TlsVerify::Full => builder
            .with_root_certificates(roots(opts.ca_file.as_deref())?)
            .with_no_client_auth(),
        TlsVerify::Chain | TlsVerify::None => {
            let chain = match opts.verify {
                TlsVerify::Chain => Some(
                    WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots(opts.ca_file.as_deref())?),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|e| HandshakeError::Setup(e.to_string()))?,
                ),
                _ => None,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient { chain, provider }))
                .with_no_client_auth()
        }
    })
}

/// The trusted roots: `ca_file`, else `SSL_CERT_FILE`, else the system bundle.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, HandshakeError> {
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let path = ca_file
        .map(Path::to_path_buf)
        .or(env)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_BUNDLE));
    let certs = CertificateDer::pem_file_iter(&path).map_err(|e| {
        HandshakeError::Setup(format!("cannot read CA file {}: {e}", path.display()))
    })?;
    let mut store = RootCertStore::empty();
    for cert in certs {
        let cert = cert.map_err(|e| {
            HandshakeError::Setup(format!("cannot read CA file {}: {e}", path.display()))
        })?;
        // Certificates rustls cannot use (old formats in big bundles) are skipped.
        let _ = store.add(cert);
    }
    if store.is_empty() {
        return Err(HandshakeError::Setup(format!(
            "CA file {} holds no usable certificate",
            path.display()
        )));
    }
    Ok(store)
}

/// Accepts any certificate (`chain` `None`) or a trusted chain issued for another name; the
/// handshake's signatures are always checked.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
