//! The rustls client configuration a [`Tls`] setting stands for: verified against a root
//! CA file, not verified at all (go-nsq's `InsecureSkipVerify`), or given whole; and the
//! name the server's certificate is checked against.

use crate::config::Tls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// The rustls configuration and server name for `addr` (`host:port`).
pub(crate) fn client_config(
    tls: &Tls,
    addr: &str,
) -> Result<(Arc<ClientConfig>, ServerName<'static>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let (config, name) = match tls {
        Tls::Off => return Err("TLS is off".into()),
        Tls::Custom {
            config,
            server_name,
        } => (Arc::clone(config), server_name.clone()),
        Tls::Verify {
            root_ca_file,
            server_name,
            client_cert,
        } => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(root_ca_file)
                .map_err(|e| format!("root CA file {}: {e}", root_ca_file.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("root CA file: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("root CA certificate: {e}"))?;
            }
            let b = builder.with_root_certificates(roots);
            let config = with_client_cert(b, client_cert.as_ref())?;
            (Arc::new(config), server_name.clone())
        }
        Tls::InsecureSkipVerify { client_cert } => {
            let b = builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCert { provider }));
            (Arc::new(with_client_cert(b, client_cert.as_ref())?), None)
        }
    };
    let host = name.unwrap_or_else(|| host_of(addr).to_string());
    let name = ServerName::try_from(host).map_err(|e| format!("TLS server name: {e}"))?;
    Ok((config, name))
}

fn with_client_cert(
    b: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
    client_cert: Option<&(PathBuf, PathBuf)>,
) -> Result<ClientConfig, String> {
    let Some((cert, key)) = client_cert else {
        return Ok(b.with_no_client_auth());
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("client certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("client certificate {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("client key {}: {e}", key.display()))?;
    b.with_client_auth_cert(certs, key)
        .map_err(|e| format!("client certificate: {e}"))
}

/// The host part of `host:port` (`[v6]:port` too).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Accepts any server certificate; signatures are still checked.
#[derive(Debug)]
struct AnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_part() {
        assert_eq!(host_of("127.0.0.1:4150"), "127.0.0.1");
        assert_eq!(host_of("[::1]:4150"), "::1");
        assert_eq!(host_of("nsqd.local:4150"), "nsqd.local");
    }
}
