//! `--tls-cert`, `--tls-key`, `--tls-client-ca`: a TLS listener's rustls
//! settings, and what a failed handshake means, in words.

use std::io;
use std::path::Path;
use std::sync::Arc;

use dnstap::tls::{load_certificates, load_certified_key};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// ring, as libdnstap: no aws-lc-rs (rustls deprecates ring's provider for
/// lacking post-quantum key exchange).
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(err: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, err.to_string())
}

/// TLS 1.2 and 1.3 with the certificate chain and key of these PEM files;
/// with `client_ca`, only writers whose certificate that CA signed.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> io::Result<Arc<ServerConfig>> {
    let (chain, key) = load_certified_key(cert, key).map_err(invalid)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(invalid)?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in load_certificates(path, "client CA file").map_err(invalid)? {
                roots
                    .add(certificate)
                    .map_err(|err| invalid(format!("client CA file {}: {err}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(invalid)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).map_err(invalid)?;
    Ok(Arc::new(config))
}

/// Why a TLS connection was refused, if `err` is a TLS error.
pub fn refusal(err: &io::Error) -> Option<String> {
    use rustls::AlertDescription as Alert;
    let tls = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(match tls {
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("not TLS ({tls}): a plaintext writer on a TLS listener?")
        }
        rustls::Error::NoCertificatesPresented => {
            "TLS: no client certificate, and --tls-client-ca requires one".into()
        }
        rustls::Error::InvalidCertificate(reason) => {
            format!("TLS: client certificate refused: {reason}")
        }
        rustls::Error::AlertReceived(
            alert @ (Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateExpired
            | Alert::CertificateUnknown),
        ) => format!("TLS: the writer refused our certificate (alert {alert:?})"),
        other => format!("TLS: {other}"),
    })
}
