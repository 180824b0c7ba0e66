//! The mutual-TLS identities of the management API: loading them from PEM
//! files into rustls configs, and naming a client by its certificate.
//!
//! Two directory layouts, both made by `pharos identity` (`crate::cli::identity`):
//!
//! - a box's identity (`/config/identity/` on the image, `/etc/pharos/identity/`
//!   on a host): `ca.pem` (the CA whose clients are let in), `box.pem`,
//!   `box.key` and `management.toml` (where to listen). The management
//!   server loads it with [`server_config`] and [`load_management`].
//! - an operator's identity ([`default_client_dir`]): `ca.pem` (the CA the
//!   box must be signed by), `client.pem`, `client.key`. `pharos remote`
//!   loads it with [`client_config`].
//!
//! Both sides trust only the one CA of the directory, never the system's
//! roots: a box is managed by whoever holds a certificate from its CA, and
//! nobody else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use serde::Deserialize;

/// `management.toml` of a box's identity: where the management API listens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Management {
    /// `ip:port`, e.g. `0.0.0.0:9443`.
    pub listen: SocketAddr,
    /// The NIC the API is reached on, set up by the management task itself
    /// (up, with this address), so that a box whose `pharos.toml` is broken
    /// (maintenance mode) can still be reached and given a config.
    #[serde(default)]
    pub interface: Option<ManagementNic>,
}

/// `[interface]` of `management.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementNic {
    /// `eth1`.
    pub name: String,
    /// `10.0.2.15/24`.
    pub address: String,
}

/// What to do about a missing or broken file of a box's identity.
const BOX_HINT: &str = "create the box's identity with `pharos identity box NAME --address ADDRESS` \
     where the CA is kept, and copy its boxes/NAME/ here";

/// What to do about a missing or broken file of an operator's identity.
const CLIENT_HINT: &str = "create one with `pharos identity init` (or `pharos identity client NAME` \
     where the CA is kept), or give another identity directory with --identity or $PHAROS_IDENTITY";

/// The TLS server config of the management API from a box's identity
/// directory: TLS 1.3 and 1.2, and only clients with a certificate from the
/// directory's `ca.pem` get in (webpki refuses other CAs, expired and
/// not-yet-valid certificates, and certificates not meant for clients, at
/// the handshake).
pub fn server_config(dir: &Path) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = dir.join("ca.pem");
    let roots = root_store(&ca, BOX_HINT)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("using {} to verify clients: {e}; {BOX_HINT}", ca.display()))?;
    let cert = dir.join("box.pem");
    let key = dir.join("box.key");
    let chain = read_certs(&cert, BOX_HINT)?;
    let private = read_key(&key, BOX_HINT)?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("setting up TLS for the management API: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, private)
        .map_err(|e| {
            format!(
                "using {} with {}: {e}; the certificate and the key must be issued together: {BOX_HINT}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Arc::new(config))
}

/// The box's `management.toml`; `Ok(None)` when the file does not exist
/// (the management API is not set up on this box).
pub fn load_management(dir: &Path) -> Result<Option<Management>, String> {
    let path = dir.join("management.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "reading {}: {}; make it readable, or remove it to turn the management API off",
                path.display(),
                io_reason(&e)
            ));
        }
    };
    let m: Management = toml::from_str(&text).map_err(|e| {
        format!(
            "reading {}: {}; it holds `listen = \"0.0.0.0:9443\"` (an IP address and a port) and, to have pharos set up the NIC the API is reached on, `interface = {{ name = \"eth1\", address = \"10.0.2.15/24\" }}`",
            path.display(),
            e.to_string().trim_end()
        )
    })?;
    if let Some(nic) = &m.interface
        && let Err(e) = nic.address.parse::<crate::config::types::Cidr>()
    {
        return Err(format!(
            "reading {}: interface.address `{}`: {}",
            path.display(),
            nic.address,
            e.replace("\nhelp: ", "; ")
        ));
    }
    Ok(Some(m))
}

/// The TLS client config of `pharos remote` from an operator's identity
/// directory: the box must have a certificate from the directory's
/// `ca.pem` (and only that CA: no system roots), and the client presents
/// `client.pem`.
pub fn client_config(dir: &Path) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = root_store(&dir.join("ca.pem"), CLIENT_HINT)?;
    let cert = dir.join("client.pem");
    let key = dir.join("client.key");
    let chain = read_certs(&cert, CLIENT_HINT)?;
    let private = read_key(&key, CLIENT_HINT)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("setting up TLS for the management API: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, private)
        .map_err(|e| {
            format!(
                "using {} with {}: {e}; the certificate and the key must be issued together: {CLIENT_HINT}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Arc::new(config))
}

/// Where an operator's identity is: `$PHAROS_IDENTITY`, else
/// `$XDG_CONFIG_HOME/pharos/identity`, else `$HOME/.config/pharos/identity`.
pub fn default_client_dir() -> PathBuf {
    client_dir_from(|name| std::env::var_os(name))
}

/// [`default_client_dir`] with the environment passed in (tests cannot set
/// variables: `set_var` is unsafe, and the crate forbids unsafe code).
fn client_dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    // An empty variable counts as unset, as the XDG base directory spec says.
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set("PHAROS_IDENTITY") {
        return dir;
    }
    if let Some(config) = set("XDG_CONFIG_HOME") {
        return config.join("pharos/identity");
    }
    // Without $HOME, relative to the current directory: better than a
    // made-up home that might be someone else's.
    set("HOME")
        .unwrap_or_default()
        .join(".config/pharos/identity")
}

/// Who a management client is, for logs and events: the Common Name of its
/// certificate, else its first DNS name, else `sha256:` and the start of
/// the certificate's fingerprint; "unknown" without a certificate.
pub fn peer_name(certs: Option<&[CertificateDer<'_>]>) -> String {
    let Some(der) = certs.and_then(|c| c.first()) else {
        return "unknown".to_string();
    };
    if let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) {
        let cn = cert
            .subject()
            .iter_common_name()
            .find_map(|cn| cn.as_str().ok())
            .filter(|cn| !cn.is_empty());
        if let Some(cn) = cn {
            return cn.to_string();
        }
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            let dns = san.value.general_names.iter().find_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(*d),
                _ => None,
            });
            if let Some(dns) = dns {
                return dns.to_string();
            }
        }
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(der.as_ref());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The certificates of `path` as the only roots.
pub(crate) fn root_store(path: &Path, hint: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, hint)? {
        roots
            .add(cert)
            .map_err(|e| format!("using {} as a CA: {e}; {hint}", path.display()))?;
    }
    Ok(roots)
}

/// Every certificate of a PEM file; at least one.
fn read_certs(path: &Path, hint: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, hint)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading {}: {}; {hint}", path.display(), pem_reason(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "reading {}: no certificate in it (no `-----BEGIN CERTIFICATE-----`); {hint}",
            path.display()
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file.
fn read_key(path: &Path, hint: &str) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read(path, hint)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => format!(
            "reading {}: no private key in it (no `-----BEGIN PRIVATE KEY-----`); {hint}",
            path.display()
        ),
        e => format!("reading {}: {}; {hint}", path.display(), pem_reason(&e)),
    })
}

fn read(path: &Path, hint: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|e| format!("reading {}: {}; {hint}", path.display(), io_reason(&e)))
}

/// An I/O error as people read it: "No such file or directory", without
/// the "(os error 2)" that says nothing more.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn pem_reason(e: &pem::Error) -> String {
    match e {
        pem::Error::Io(e) => io_reason(e),
        e => format!("not a valid PEM file ({e:?})"),
    }
}

// ---- Issuing: the certificates `pharos identity` writes (and tests make).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::time::{Duration, SystemTime};

/// A certificate and its private key, as PEM.
#[derive(Debug, Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

const CA_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 60 * 60);
const LEAF_VALIDITY: Duration = Duration::from_secs(730 * 24 * 60 * 60);
/// Certificates are valid from a little before they are made, so that a
/// box whose clock is a few minutes behind still takes a fresh one.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// Validity from (a little before) now for `length`.
fn from_now(length: Duration) -> (SystemTime, SystemTime) {
    let now = SystemTime::now();
    (now - BACKDATE, now + length)
}

/// A new CA: "pharos CA", 10 years, that may sign only end-entity
/// certificates (path length 0).
pub fn issue_ca() -> Result<Pem, String> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name("pharos CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let (from, to) = from_now(CA_VALIDITY);
    params.not_before = from.into();
    params.not_after = to.into();
    let key = new_key()?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("signing the CA certificate: {e}"))?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A box's server certificate, 2 years: Common Name `name`, and the
/// addresses it is reached by and its name as subject alternative names.
pub fn issue_box(ca: &Pem, name: &str, addresses: &[String]) -> Result<Pem, String> {
    check_box_name(name)?;
    if addresses.is_empty() {
        return Err(format!(
            "issuing box {name}'s identity: no --address; give the IP addresses or DNS names \
             the box is reached by (clients check them)"
        ));
    }
    let mut sans = Vec::new();
    for a in addresses {
        check_address(a)?;
        sans.push(a.clone());
    }
    if !sans.iter().any(|s| s == name) {
        sans.push(name.to_string());
    }
    let mut params =
        CertificateParams::new(sans).map_err(|e| format!("issuing box {name}'s identity: {e}"))?;
    params.distinguished_name = self::name(name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let (from, to) = from_now(LEAF_VALIDITY);
    sign(params, ca, from, to, &format!("box {name}'s certificate"))
}

/// An operator's client certificate, 2 years, Common Name `name`.
pub fn issue_client(ca: &Pem, name: &str) -> Result<Pem, String> {
    let (from, to) = from_now(LEAF_VALIDITY);
    issue_client_with_validity(ca, name, from, to)
}

/// [`issue_client`] valid from `not_before` to `not_after` (tests make
/// expired ones with it).
pub fn issue_client_with_validity(
    ca: &Pem,
    name: &str,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Pem, String> {
    check_client_name(name)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = self::name(name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    sign(
        params,
        ca,
        not_before,
        not_after,
        &format!("client {name}'s certificate"),
    )
}

fn sign(
    mut params: CertificateParams,
    ca: &Pem,
    not_before: SystemTime,
    not_after: SystemTime,
    what: &str,
) -> Result<Pem, String> {
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    let ca_key = KeyPair::from_pem(&ca.key).map_err(|e| {
        format!("reading the CA's key: {e}; ca.key must be the key `pharos identity init` wrote")
    })?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key).map_err(|e| {
        format!(
            "reading the CA's certificate: {e}; ca.pem must be the certificate `pharos identity init` wrote"
        )
    })?;
    let key = new_key()?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("signing {what}: {e}"))?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// An ECDSA P-256 key.
fn new_key() -> Result<KeyPair, String> {
    KeyPair::generate().map_err(|e| format!("generating a private key: {e}"))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A box's name is a directory name and a DNS name of its certificate.
pub fn check_box_name(name: &str) -> Result<(), String> {
    if is_dns_name(name) {
        Ok(())
    } else {
        Err(format!(
            "the box name `{name}` is not a host name; use letters, digits, `-` and `.` (e.g. lb1)"
        ))
    }
}

/// A client's name is a directory name and a Common Name.
pub fn check_client_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && !name.contains('/')
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the client name `{name}` cannot name a directory; use a name without `/` that does \
             not start with `.` or `-` (e.g. alice)"
        ))
    }
}

pub fn check_address(a: &str) -> Result<(), String> {
    if a.parse::<std::net::IpAddr>().is_ok() || is_dns_name(a) {
        Ok(())
    } else {
        Err(format!(
            "--address {a} is neither an IP address nor a DNS name; give an address the box \
             is reached by, without a port (e.g. 192.0.2.10 or lb1.example.net)"
        ))
    }
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super as identity;
    use super::*;

    /// A box's and a client's identity directory from one CA.
    fn identities(tmp: &Path) -> (PathBuf, PathBuf) {
        let ca = identity::issue_ca().unwrap();
        let boxed = identity::issue_box(&ca, "lb1", &["127.0.0.1".to_string()]).unwrap();
        let client = identity::issue_client(&ca, "alice").unwrap();
        let (b, c) = (tmp.join("box"), tmp.join("client"));
        std::fs::create_dir_all(&b).unwrap();
        std::fs::create_dir_all(&c).unwrap();
        for d in [&b, &c] {
            std::fs::write(d.join("ca.pem"), &ca.cert).unwrap();
        }
        std::fs::write(b.join("box.pem"), &boxed.cert).unwrap();
        std::fs::write(b.join("box.key"), &boxed.key).unwrap();
        std::fs::write(b.join("management.toml"), "listen = \"0.0.0.0:9443\"\n").unwrap();
        std::fs::write(c.join("client.pem"), &client.cert).unwrap();
        std::fs::write(c.join("client.key"), &client.key).unwrap();
        (b, c)
    }

    #[test]
    fn a_generated_identity_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let (b, c) = identities(tmp.path());
        server_config(&b).unwrap();
        client_config(&c).unwrap();
        assert_eq!(
            load_management(&b).unwrap(),
            Some(Management {
                listen: "0.0.0.0:9443".parse().unwrap(),
                interface: None,
            })
        );
    }

    #[test]
    fn missing_files_say_which_and_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let (b, c) = identities(tmp.path());
        std::fs::remove_file(b.join("box.key")).unwrap();
        let e = server_config(&b).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "reading {}: No such file or directory; create the box's identity with `pharos identity box",
                b.join("box.key").display()
            )),
            "{e}"
        );
        std::fs::remove_file(c.join("ca.pem")).unwrap();
        let e = client_config(&c).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "reading {}: No such file or directory; create one with `pharos identity init`",
                c.join("ca.pem").display()
            )),
            "{e}"
        );
        let e = server_config(&tmp.path().join("nowhere")).unwrap_err();
        assert!(e.contains("nowhere/ca.pem: No such file"), "{e}");
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        let tmp = tempfile::tempdir().unwrap();
        let (b, c) = identities(tmp.path());
        // A certificate where the key should be.
        std::fs::copy(b.join("box.pem"), b.join("box.key")).unwrap();
        let e = server_config(&b).unwrap_err();
        assert!(e.contains("box.key: no private key in it"), "{e}");
        // The key of another identity.
        std::fs::copy(c.join("client.key"), b.join("box.key")).unwrap();
        let e = server_config(&b).unwrap_err();
        assert!(
            e.contains("box.pem with ") && e.contains("issued together"),
            "{e}"
        );
        std::fs::write(c.join("client.pem"), "").unwrap();
        let e = client_config(&c).unwrap_err();
        assert!(e.contains("client.pem: no certificate in it"), "{e}");
    }

    #[test]
    fn management_toml_is_optional_and_strict() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(load_management(tmp.path()).unwrap(), None);
        let file = tmp.path().join("management.toml");
        for bad in [
            "listen = \"0.0.0.0\"\n",
            "listen = \"0.0.0.0:9443\"\nport = 1\n",
            "",
        ] {
            std::fs::write(&file, bad).unwrap();
            let e = load_management(tmp.path()).unwrap_err();
            assert!(
                e.starts_with(&format!("reading {}: ", file.display()))
                    && e.contains("`listen = \"0.0.0.0:9443\"` (an IP address and a port)"),
                "{e}"
            );
        }
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9443\"\ninterface = { name = \"eth1\", address = \"10.0.0.5\" }\n",
        )
        .unwrap();
        let e = load_management(tmp.path()).unwrap_err();
        assert!(e.contains("interface.address `10.0.0.5`"), "{e}");
        std::fs::write(&file, "listen = \"[::]:9443\"\n").unwrap();
        assert_eq!(
            load_management(tmp.path()).unwrap().unwrap().listen,
            "[::]:9443".parse::<SocketAddr>().unwrap()
        );
    }

    #[test]
    fn the_client_dir_follows_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        const ALL: &[(&str, &str)] = &[
            ("PHAROS_IDENTITY", "/id"),
            ("XDG_CONFIG_HOME", "/xdg"),
            ("HOME", "/home/a"),
        ];
        assert_eq!(client_dir_from(env(ALL)), Path::new("/id"));
        assert_eq!(
            client_dir_from(env(&ALL[1..])),
            Path::new("/xdg/pharos/identity")
        );
        assert_eq!(
            client_dir_from(env(&[("XDG_CONFIG_HOME", ""), ("HOME", "/home/a")])),
            Path::new("/home/a/.config/pharos/identity")
        );
    }

    #[test]
    fn peer_name_is_the_common_name() {
        let ca = identity::issue_ca().unwrap();
        let client = identity::issue_client(&ca, "alice").unwrap();
        let certs: Vec<_> = CertificateDer::pem_slice_iter(client.cert.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(peer_name(Some(&certs)), "alice");
        assert_eq!(peer_name(None), "unknown");
        assert_eq!(peer_name(Some(&[])), "unknown");
        // No name at all: the fingerprint.
        let odd = CertificateDer::from(b"not a certificate".to_vec());
        let name = peer_name(Some(std::slice::from_ref(&odd)));
        assert!(
            name.starts_with("sha256:") && name.len() == "sha256:".len() + 16,
            "{name}"
        );
    }

    #[test]
    fn peer_name_falls_back_to_the_dns_name() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["ops.example".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            peer_name(Some(std::slice::from_ref(cert.der()))),
            "ops.example"
        );
    }
}
