//! TLS for client connections: the server configuration built from `--tls-cert`,
//! `--tls-key`, `--tls-client-auth-policy`, `--tls-root-ca-file` and `--tls-min-version`,
//! and the names `/stats` reports for a session's version and cipher suite.
//!
//! rustls speaks TLS 1.2 and 1.3 only, so a `--tls-min-version` of tls1.0 or tls1.1 means
//! 1.2 in practice; every client we know of (go-nsq, pynsq) negotiates 1.2 or later.

use crate::config::{Config, TlsVersion};
use anyhow::Context;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use std::sync::Arc;

/// The server's TLS configuration, or `None` when no certificate is configured.
pub fn server_config(c: &Config) -> anyhow::Result<Option<Arc<ServerConfig>>> {
    if c.tls_cert.is_empty() || c.tls_key.is_empty() {
        return Ok(None);
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&c.tls_cert)
        .with_context(|| format!("failed to read --tls-cert {}", c.tls_cert))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("failed to parse --tls-cert {}", c.tls_cert))?;
    let key = PrivateKeyDer::from_pem_file(&c.tls_key)
        .with_context(|| format!("failed to load --tls-key {}", c.tls_key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if c.tls_min_version == TlsVersion::Tls13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12, &rustls::version::TLS13]
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .context("TLS protocol versions")?;
    let builder = match c.tls_client_auth_policy.as_str() {
        "require" => builder.with_client_cert_verifier(Arc::new(AnyClientCert { provider })),
        "require-verify" => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&c.tls_root_ca_file).with_context(|| {
                format!("failed to read --tls-root-ca-file {}", c.tls_root_ca_file)
            })? {
                roots
                    .add(cert.context("bad certificate in --tls-root-ca-file")?)
                    .context("bad certificate in --tls-root-ca-file")?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .context("client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match")?;
    Ok(Some(Arc::new(config)))
}

/// `require`: a client certificate must be presented, but any will do (Go's
/// `tls.RequireAnyClientCert`). Signatures are still checked, so the client must hold the
/// key of the certificate it shows.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
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

/// Go's names: `TLS1.2`, `TLS1.3`.
pub fn version_name(v: Option<rustls::ProtocolVersion>) -> String {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS1.2".into(),
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS1.3".into(),
        Some(other) => format!("Unknown {}", u16::from(other)),
        None => String::new(),
    }
}

/// Go's names for cipher suites (`TLS_AES_128_GCM_SHA256`,
/// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, ...).
pub fn suite_name(s: Option<rustls::SupportedCipherSuite>) -> String {
    match s {
        Some(s) => {
            let name = format!("{:?}", s.suite());
            match name.strip_prefix("TLS13_") {
                Some(rest) => format!("TLS_{rest}"),
                None => name,
            }
        }
        None => String::new(),
    }
}
