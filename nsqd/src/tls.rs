//! TLS for client connections: the server configuration built from `--tls-cert`,
//! `--tls-key`, `--tls-client-auth-policy`, `--tls-root-ca-file` and `--tls-min-version`,
//! the names `/stats` reports for a session's version and cipher suite, the subject
//! common name of a client's certificate (for AUTH), and the client configuration for
//! `https://` auth servers (as Go nsqd v1.3.0's: `--tls-root-ca-file` as the roots when
//! given, else the usual public roots; `--tls-min-version`; no client certificate).
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
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions(c.tls_min_version))
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

/// The TLS client configuration for auth servers over `https://`. As in Go, an unreadable
/// or empty `--tls-root-ca-file` stops nsqd at startup.
pub fn client_config(c: &Config) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = RootCertStore::empty();
    if c.tls_root_ca_file.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        for cert in CertificateDer::pem_file_iter(&c.tls_root_ca_file)
            .with_context(|| format!("failed to read --tls-root-ca-file {}", c.tls_root_ca_file))?
        {
            roots
                .add(cert.context("failed to append certificate to pool")?)
                .context("failed to append certificate to pool")?;
        }
        anyhow::ensure!(!roots.is_empty(), "failed to append certificate to pool");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions(c.tls_min_version))
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
static TLS12_UP: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS12, &rustls::version::TLS13];

fn versions(min: TlsVersion) -> &'static [&'static rustls::SupportedProtocolVersion] {
    if min == TlsVersion::Tls13 {
        &TLS13_ONLY
    } else {
        &TLS12_UP
    }
}

/// The subject common name of a client certificate (DER), as Go's
/// `Certificate.Subject.CommonName` (the last CN attribute); `""` if there is none.
pub fn common_name(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .last()
            .unwrap_or_default()
            .to_string(),
        Err(_) => String::new(),
    }
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
