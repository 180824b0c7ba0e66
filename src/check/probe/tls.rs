//! TLS for https probes: the rustls client config for each `verify`
//! policy, and the server name (SNI, and the name a certificate must be
//! valid for) from the check's `host`.
//!
//! Why it is built this way:
//! - The `ring` provider is passed explicitly rather than installed as the
//!   process default: nothing else in pharos has to agree on a provider,
//!   and no C library is linked (the binary is static).
//! - A client config is built once per policy and CA file contents and
//!   shared (`Arc`) by every probe that uses it: a service with a hundred
//!   real servers reads and parses its `ca_file` (or the system store)
//!   once, not a hundred times. The cache holds only `Weak` references, so
//!   a reload after the file changed builds a fresh one once the old probes
//!   are gone.
//! - Session resumption is off: each attempt does a full handshake, so a
//!   certificate that expired or was replaced is seen at the next check,
//!   not hidden behind a resumed session.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::model::TlsVerify;

#[derive(PartialEq, Eq)]
enum Key {
    AnyCert,
    System,
    /// The CA file's contents: the same path with new contents is another key.
    Ca(Vec<u8>),
}

static CACHE: Mutex<Vec<(Key, Weak<ClientConfig>)>> = Mutex::new(Vec::new());

/// The client config for `verify` (default: accept any certificate), with
/// `ca_file` read for `verify = "ca"`. Errors say what to fix.
pub(crate) fn client_config(
    verify: Option<TlsVerify>,
    ca_file: Option<&str>,
) -> Result<Arc<ClientConfig>, String> {
    let key = match verify.unwrap_or(TlsVerify::None) {
        TlsVerify::None => Key::AnyCert,
        TlsVerify::System => Key::System,
        TlsVerify::Ca => {
            let path = ca_file.ok_or_else(|| {
                "`verify = \"ca\"` without a `ca_file`: add `ca_file = \"/path/to/ca.pem\"`"
                    .to_string()
            })?;
            Key::Ca(std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read ca_file {path}: {e}; give the path of a PEM file of the CA \
                     certificates that signed the real servers' certificates"
                )
            })?)
        }
    };
    // A poisoned lock only means another thread panicked while holding it;
    // the list itself is still consistent.
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.retain(|(_, weak)| weak.strong_count() > 0);
    if let Some(config) = cache
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, weak)| weak.upgrade())
    {
        return Ok(config);
    }
    let config = Arc::new(build(&key, ca_file.unwrap_or_default())?);
    cache.push((key, Arc::downgrade(&config)));
    Ok(config)
}

fn build(key: &Key, ca_path: &str) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let mut config = match key {
        Key::AnyCert => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Key::System => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
        Key::Ca(pem) => builder
            .with_root_certificates(ca_roots(ca_path, pem)?)
            .with_no_client_auth(),
    };
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn ca_roots(path: &str, pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| {
            format!(
                "ca_file {path}: certificate {} is not valid PEM: {e}; give a file of \
                 -----BEGIN CERTIFICATE----- blocks",
                i + 1
            )
        })?;
        roots.add(cert).map_err(|e| {
            format!(
                "ca_file {path}: certificate {} cannot be used as a trust anchor: {e}",
                i + 1
            )
        })?;
    }
    if roots.is_empty() {
        return Err(format!(
            "ca_file {path} holds no certificate; give a PEM file with \
             -----BEGIN CERTIFICATE----- blocks of the CAs to trust"
        ));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(format!(
            "`verify = \"system\"`: no system CA certificates found{why}; install the \
             ca-certificates package (or set SSL_CERT_FILE), or use `verify = \"ca\"` \
             with a `ca_file`"
        ));
    }
    Ok(roots)
}

/// The name the TLS handshake is for: `host` without a port if it is a DNS
/// name (sent as SNI and matched against the certificate), else the IP
/// address (no SNI; the certificate must name the IP).
pub(crate) fn server_name(host: Option<&str>, ip: IpAddr) -> Result<ServerName<'static>, String> {
    let Some(host) = host else {
        return Ok(ServerName::IpAddress(ip.into()));
    };
    let name = host_without_port(host);
    ServerName::try_from(name.to_string()).map_err(|_| {
        format!(
            "host `{host}` is neither a DNS name nor an IP address, so it cannot be the TLS \
             server name; write the name the certificate is for, like `www.example.com`"
        )
    })
}

/// `www.example.com:8443` -> `www.example.com`, `[::1]:443` -> `::1`; a
/// bare IPv6 address is left whole.
fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// `verify = "none"`: any certificate is accepted (real servers often have
/// self-signed ones), but the handshake's signatures are still checked
/// against the certificate's key, so the peer must hold that key.
#[derive(Debug)]
struct AnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCert {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_cut_from_host() {
        assert_eq!(host_without_port("www.example.com:8443"), "www.example.com");
        assert_eq!(host_without_port("www.example.com"), "www.example.com");
        assert_eq!(host_without_port("[::1]:443"), "::1");
        assert_eq!(host_without_port("::1"), "::1");
        assert_eq!(host_without_port("10.0.0.1:443"), "10.0.0.1");
    }

    #[test]
    fn server_names() {
        let ip: IpAddr = [10, 0, 0, 2].into();
        assert!(matches!(
            server_name(None, ip),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name(Some("www.example.com:443"), ip),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name(Some("10.0.0.9"), ip),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(server_name(Some("bad name!"), ip).is_err());
    }

    #[test]
    fn configs_are_shared_while_in_use() {
        let a = client_config(None, None).unwrap();
        let b = client_config(Some(TlsVerify::None), None).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}
