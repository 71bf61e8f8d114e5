//! TLS to the collector (`tls:ADDR@PORT` sinks), with rustls and its ring
//! provider: the settings, the certificates and keys they name (read by
//! `dnstap_init`, so that a bad file fails at once), and how the collector
//! is authenticated. The PEM loaders are public: `dnstap-kit capture`
//! reads its certificates with them.
//!
//! The collector is authenticated by default: its certificate must chain
//! to a trusted CA (the CA file, else the system's roots) and be valid for
//! the server name (else for ADDR, as an IP address). [`Verify::Chain`]
//! skips the name, [`Verify::None`] accepts any certificate: the stream is
//! then encrypted but the collector is not authenticated, which only an
//! explicit setting asks for (stock Unbound's meaning of `dnstap-tls: yes`
//! without a server name or bundle).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use crate::error::Error;

/// How the collector's certificate is checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// The chain to a trusted CA, the validity dates and the name.
    #[default]
    Full,
    /// The chain and the dates, not the name.
    Chain,
    /// Nothing: any certificate is accepted (encryption without authentication).
    None,
}

/// The TLS settings of a `tls:` sink.
#[derive(Clone, Debug)]
pub(crate) struct TlsOptions {
    /// The name the certificate must be valid for; None: the sink's address.
    pub server_name: Option<ServerName<'static>>,
    /// CAs to trust (PEM); None: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Trust the system's roots too; None: only when no CA file is set.
    pub system_roots: Option<bool>,
    /// Client certificate chain and key (PEM), for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    pub verify: Verify,
    /// Send the server name in the handshake (never for an IP address).
    pub sni: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            server_name: None,
            ca_file: None,
            system_roots: None,
            client_cert: None,
            verify: Verify::Full,
            sni: true,
        }
    }
}

impl TlsOptions {
    /// Whether any setting differs from the default (they need a `tls:` sink).
    pub fn is_set(&self) -> bool {
        self.server_name.is_some()
            || self.ca_file.is_some()
            || self.system_roots.is_some()
            || self.client_cert.is_some()
            || self.verify != Verify::Full
            || !self.sni
    }
}

/// Parses a server name to verify: a DNS name or an IP address.
pub(crate) fn parse_server_name(name: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(name.to_string()).map_err(|_| {
        Error::invalid(format!(
            "TLS server name '{name}' is neither a DNS name nor an IP address"
        ))
    })
}

fn tls_error(path: &Path, what: &str, reason: impl fmt::Display) -> Error {
    Error::Tls(format!("{what} {}: {reason}", path.display()))
}

/// Every certificate in a PEM file; at least one.
pub fn load_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|err| tls_error(path, &format!("cannot read {what}"), pem_reason(err)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| tls_error(path, &format!("cannot read {what}"), pem_reason(err)))?;
    if certificates.is_empty() {
        return Err(tls_error(path, what, "holds no PEM CERTIFICATE"));
    }
    Ok(certificates)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1; not encrypted).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| match err {
        rustls::pki_types::pem::Error::NoItemsFound => tls_error(
            path,
            "key file",
            "holds no unencrypted PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        err => tls_error(path, "cannot read key file", pem_reason(err)),
    })
}

fn pem_reason(err: rustls::pki_types::pem::Error) -> String {
    match err {
        rustls::pki_types::pem::Error::Io(err) => err.to_string(),
        err => format!("not PEM: {err}"),
    }
}

/// A certificate chain and its key, checked to belong together.
pub fn load_certified_key(
    cert_file: &Path,
    key_file: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let chain = load_certificates(cert_file, "certificate file")?;
    let key = load_private_key(key_file)?;
    rustls::sign::CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider()).map_err(
        |err| {
            Error::Tls(format!(
                "certificate {} and key {} do not go together: {err}",
                cert_file.display(),
                key_file.display()
            ))
        },
    )?;
    Ok((chain, key))
}

/// Where distributions keep the system's CA bundle; `SSL_CERT_FILE` comes first.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/ssl/cert.pem",
];

fn add_system_roots(roots: &mut RootCertStore) -> Result<(), Error> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let path = from_env
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Error::Tls(format!(
                "no system CA bundle (SSL_CERT_FILE, {}): set a CA file",
                SYSTEM_BUNDLES.join(", ")
            ))
        })?;
    let certificates = load_certificates(&path, "system CA bundle")?;
    // A system bundle may hold a certificate webpki cannot use: skip it.
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(tls_error(&path, "system CA bundle", "holds no usable CA"));
    }
    Ok(())
}

fn trust(options: &TlsOptions) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = &options.ca_file {
        for (index, certificate) in load_certificates(path, "CA file")?.into_iter().enumerate() {
            roots.add(certificate).map_err(|err| {
                tls_error(path, "CA file", format!("certificate {}: {err}", index + 1))
            })?;
        }
    }
    if options.system_roots.unwrap_or(options.ca_file.is_none()) {
        add_system_roots(&mut roots)?;
    }
    Ok(roots)
}

/// ring, not aws-lc-rs: no cmake or assembler toolchain in a server's
/// build. rustls deprecates it for lacking post-quantum key exchange.
#[allow(deprecated)]
fn provider() -> CryptoProvider {
    ring::default_provider()
}

/// A TLS client for one collector: the rustls settings, ready to connect.
pub(crate) struct TlsClient {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    verify: Verify,
}

impl TlsClient {
    /// Reads the files the settings name and builds the client; the
    /// certificate is checked against `address` when no name is set.
    pub fn new(options: &TlsOptions, address: IpAddr) -> Result<TlsClient, Error> {
        let provider = Arc::new(provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|err| Error::Tls(format!("TLS versions: {err}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match options.verify {
            Verify::None => Arc::new(AnyCertificate(provider.signature_verification_algorithms)),
            mode => {
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(trust(options)?),
                    provider,
                )
                .build()
                .map_err(|err| Error::Tls(format!("CA certificates: {err}")))?;
                if mode == Verify::Chain {
                    Arc::new(ChainOnly(webpki))
                } else {
                    webpki
                }
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &options.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert_file, key_file)) => {
                let (chain, key) = load_certified_key(cert_file, key_file)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|err| Error::Tls(format!("client certificate: {err}")))?
            }
        };
        config.enable_sni = options.sni;
        Ok(TlsClient {
            config: Arc::new(config),
            server_name: options
                .server_name
                .clone()
                .unwrap_or(ServerName::IpAddress(address.into())),
            verify: options.verify,
        })
    }

    pub fn connection(&self) -> Result<ClientConnection, rustls::Error> {
        ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
    }

    /// How the collector is authenticated, for the log.
    pub fn describe(&self) -> String {
        let name = match &self.server_name {
            ServerName::DnsName(name) => name.as_ref().to_string(),
            ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
            other => format!("{other:?}"),
        };
        match self.verify {
            Verify::Full => format!("certificate verified for {name}"),
            Verify::Chain => "certificate chain verified, name not checked".into(),
            Verify::None => "collector NOT authenticated: any certificate accepted".into(),
        }
    }
}

/// What a failed handshake or a TLS alert means, in words.
pub(crate) fn explain(err: &rustls::Error) -> String {
    use rustls::AlertDescription as Alert;
    match err {
        rustls::Error::InvalidCertificate(reason) => {
            format!("the collector's certificate is refused: {reason}")
        }
        rustls::Error::AlertReceived(Alert::CertificateRequired) => {
            "the collector requires a client certificate (it sent alert CertificateRequired)".into()
        }
        rustls::Error::AlertReceived(
            alert @ (Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::DecryptError
            | Alert::AccessDenied),
        ) => format!("the collector refused our client certificate (it sent alert {alert:?})"),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the collector does not speak TLS ({err}); is it a plaintext collector?")
        }
        err => format!("TLS: {err}"),
    }
}

/// `Verify::Chain`: webpki's check, but a name mismatch is accepted (the
/// name is checked after the chain and the dates, so those passed).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
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
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `Verify::None`: any certificate; the handshake signature is still
/// checked against the certificate presented.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
