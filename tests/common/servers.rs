//! Small servers on loopback for the probe tests (`tests/check_probes.rs`):
//! an HTTP/1.1 server written by hand (so that a test controls exactly
//! what goes on the wire: slow answers, no answer, chunked bodies), the
//! same behind TLS with certificates made by rcgen, a server that accepts
//! and never answers, a UDP responder and a DNS responder built with
//! hickory-proto. Each binds port 0 and runs until the test's runtime ends.
//!
//! Included with `#[path]` rather than from `common/mod.rs`, which the
//! other test files share and this one does not need to change.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The body `/ok` answers with; `md5sum` and `sha256sum` of it are
/// [`BODY_MD5`] and [`BODY_SHA256`].
pub const BODY: &str = "pharos is healthy\n";
pub const BODY_MD5: &str = "22d06ee3ed01571897937b5fa09dbf06";
pub const BODY_SHA256: &str = "f8c4dac770e553d7916e1cf0a28b48773f7be9104e92ad25e8286b5f96af2d8b";

/// One request as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub path: String,
    /// The Host header, if any.
    pub host: Option<String>,
    /// The Connection header, if any.
    pub connection: Option<String>,
    /// The TLS server name the client sent (SNI), for TLS connections.
    pub sni: Option<String>,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// An HTTP server on `ip`, port 0. Routes:
/// - `/ok`: 200 with [`BODY`]; `/chunked`: 200 with BODY in chunks;
/// - `/down`: 503; `/moved`: 302;
/// - `/slow`: 200 after 30 s; `/stall`: headers, then the body never comes;
/// - `/hangup`: closes without answering;
/// - `/big`: 200 with 5 MiB of body;
/// - anything else: 404.
pub async fn http(ip: IpAddr) -> (SocketAddr, Log) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve(stream, None, seen.clone()));
        }
    });
    (addr, log)
}

/// A CA named `ca_name` and a server certificate it signed, for
/// `www.pharos.test` and 127.0.0.1.
pub struct Pki {
    pub ca_pem: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key_der: Vec<u8>,
}

pub fn pki(ca_name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["www.pharos.test".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "www.pharos.test");
    let cert = leaf.signed_by(&key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        chain: vec![cert.der().clone(), ca.der().clone()],
        key_der: key.serialize_der(),
    }
}

/// The HTTP server of [`http`] behind TLS with `pki`'s certificate, on
/// 127.0.0.1. A failed handshake is logged as a request to `!handshake`.
pub async fn https(pki: &Pki) -> (SocketAddr, Log) {
    https_with(pki, rustls::DEFAULT_VERSIONS).await
}

/// [`https`] speaking only TLS 1.2, as older real servers do.
pub async fn https_tls12(pki: &Pki) -> (SocketAddr, Log) {
    https_with(pki, &[&rustls::version::TLS12]).await
}

async fn https_with(
    pki: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (SocketAddr, Log) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                match acceptor.accept(stream).await {
                    Ok(tls) => {
                        let sni = tls.get_ref().1.server_name().map(str::to_string);
                        serve(tls, sni, seen).await;
                    }
                    Err(_) => seen.lock().unwrap().push(Seen {
                        path: "!handshake".into(),
                        ..Seen::default()
                    }),
                }
            });
        }
    });
    (addr, log)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, sni: Option<String>, log: Log) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 16 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_string();
    let header = |name: &str| {
        text.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    log.lock().unwrap().push(Seen {
        path: path.clone(),
        host: header("host"),
        connection: header("connection"),
        sni,
    });
    let reply = |code: &str, body: &str| {
        format!(
            "HTTP/1.1 {code}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let out = match path.as_str() {
        "/ok" => reply("200 OK", BODY),
        "/down" => reply("503 Service Unavailable", "down\n"),
        "/moved" => {
            "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_string()
        }
        "/chunked" => {
            let (a, b) = BODY.split_at(7);
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                 {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            )
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            reply("200 OK", BODY)
        }
        "/stall" => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
                .await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        "/hangup" => return,
        "/big" => {
            let size = 5 << 20;
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b'x'; 64 * 1024];
            for _ in 0..size / block.len() {
                if stream.write_all(&block).await.is_err() {
                    return;
                }
            }
            let _ = stream.shutdown().await;
            return;
        }
        _ => reply("404 Not Found", ""),
    };
    let _ = stream.write_all(out.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A TCP server that accepts connections and never reads or answers.
pub async fn silent_tcp() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A port on `ip` where nothing listens (TCP and UDP): bound, then closed.
pub fn closed_port(ip: IpAddr) -> SocketAddr {
    let tcp = std::net::TcpListener::bind((ip, 0)).unwrap();
    let port = tcp.local_addr().unwrap().port();
    // The same number free for UDP too, or try another.
    match std::net::UdpSocket::bind((ip, port)) {
        Ok(_) => SocketAddr::new(ip, port),
        Err(_) => closed_port(ip),
    }
}

/// A UDP responder that answers each datagram with `PONG ` and the
/// datagram.
pub async fn udp_pong() -> SocketAddr {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let mut reply = b"PONG ".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = sock.send_to(&reply, from).await;
        }
    });
    addr
}

/// A UDP socket that receives and never answers.
pub async fn udp_silent() -> SocketAddr {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while sock.recv_from(&mut buf).await.is_ok() {}
    });
    addr
}

/// A DNS server for `pharos.test`:
/// - `www`: A 192.0.2.10, AAAA 2001:db8::10;
/// - `alias`: CNAME www.pharos.test.;
/// - `stray`: as `www`, but first a reply with another ID;
/// - anything else: NXDOMAIN.
pub async fn dns() -> SocketAddr {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(q) = query.query().cloned() else {
                continue;
            };
            let mut reply = Message::new();
            reply
                .set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_op_code(query.op_code())
                .set_recursion_desired(query.recursion_desired())
                .add_query(q.clone());
            let name = q.name().to_ascii().to_ascii_lowercase();
            let www = Name::from_ascii("www.pharos.test.").unwrap();
            match name.as_str() {
                "www.pharos.test." | "stray.pharos.test." => {
                    let rdata = match q.query_type() {
                        RecordType::AAAA => {
                            RData::AAAA(AAAA("2001:db8::10".parse::<Ipv6Addr>().unwrap()))
                        }
                        _ => RData::A(A(Ipv4Addr::new(192, 0, 2, 10))),
                    };
                    reply.add_answer(Record::from_rdata(q.name().clone(), 60, rdata));
                }
                "alias.pharos.test." => {
                    reply.add_answer(Record::from_rdata(
                        q.name().clone(),
                        60,
                        RData::CNAME(CNAME(www)),
                    ));
                }
                _ => {
                    reply.set_response_code(ResponseCode::NXDomain);
                }
            }
            if name == "stray.pharos.test." {
                let mut stray = reply.clone();
                stray.set_id(query.id().wrapping_add(1));
                let _ = sock.send_to(&stray.to_vec().unwrap(), from).await;
            }
            let _ = sock.send_to(&reply.to_vec().unwrap(), from).await;
        }
    });
    addr
}
