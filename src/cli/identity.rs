//! `pharos identity`: makes the certificates of the management API's mutual
//! TLS. One CA per operator (or team) signs both sides: each box's server
//! certificate and each operator's client certificate. A box lets in any
//! client of its CA; a client trusts any box of its CA. What the files
//! look like on disk, and how they are loaded, is `crate::runtime::tls`.
//!
//! ```text
//!   DIR/ca.pem, ca.key            the CA (ca.key issues identities: it never leaves DIR)
//!   DIR/client.pem, client.key    the operator who ran `init`
//!   DIR/boxes/NAME/               a box: ca.pem, box.pem, box.key, management.toml
//!   DIR/clients/NAME/             another operator: ca.pem, client.pem, client.key
//! ```
//!
//! The certificates say what they are for (ServerAuth for boxes,
//! ClientAuth for operators), so one cannot stand in for the other: a box's
//! key does not get into another box.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::runtime::tls::{Pem, issue_box, issue_ca, issue_client};

use super::out::{errln, out};
use crate::runtime::tls;

#[derive(clap::Subcommand)]
pub enum IdentityCommand {
    /// Create a CA, a client identity for you, and an identity for one box.
    Init {
        /// Where to keep the CA and your identity (default: $PHAROS_IDENTITY,
        /// else $XDG_CONFIG_HOME/pharos/identity, else ~/.config/pharos/identity).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The box's name (its certificate's Common Name; the directory DIR/boxes/BOX/).
        #[arg(long)]
        r#box: String,
        /// An IP address or DNS name the box is reached by (at least one; repeat for more).
        #[arg(long = "address", required = true)]
        addresses: Vec<String>,
        /// Where the box's management API listens (its management.toml).
        #[arg(long, default_value = "0.0.0.0:9443")]
        listen: String,
        /// Your name, as the boxes log it.
        #[arg(long, default_value = "admin")]
        client: String,
    },
    /// Issue an identity for another box with the CA in DIR.
    Box {
        /// Where the CA is (default: as for `init`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The box's name (its certificate's Common Name; the directory DIR/boxes/NAME/).
        name: String,
        /// An IP address or DNS name the box is reached by (at least one; repeat for more).
        #[arg(long = "address", required = true)]
        addresses: Vec<String>,
        /// Where the box's management API listens (its management.toml).
        #[arg(long, default_value = "0.0.0.0:9443")]
        listen: String,
    },
    /// Issue another client identity with the CA in DIR (written to DIR/clients/NAME/).
    Client {
        /// Where the CA is (default: as for `init`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The client's name, as the boxes log it.
        name: String,
    },
}

pub fn run(what: IdentityCommand) -> ExitCode {
    let dir = |d: Option<PathBuf>| d.unwrap_or_else(tls::default_client_dir);
    let done = match what {
        IdentityCommand::Init {
            dir: d,
            r#box,
            addresses,
            listen,
            client,
        } => init(&dir(d), &r#box, &addresses, &listen, &client),
        IdentityCommand::Box {
            dir: d,
            name,
            addresses,
            listen,
        } => add_box(&dir(d), &name, &addresses, &listen),
        IdentityCommand::Client { dir: d, name } => add_client(&dir(d), &name),
    };
    match done {
        Ok(said) => {
            out!("{said}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            errln!("pharos: {e}");
            ExitCode::from(1)
        }
    }
}

fn parse_listen(listen: &str) -> Result<SocketAddr, String> {
    listen.parse().map_err(|_| {
        format!("--listen {listen} is not an IP address and port; e.g. 0.0.0.0:9443 or [::]:9443")
    })
}

/// `pharos identity init`: the CA, the operator's identity and one box's,
/// in `dir`. Returns what to tell the operator.
pub fn init(
    dir: &Path,
    box_name: &str,
    addresses: &[String],
    listen: &str,
    client: &str,
) -> Result<String, String> {
    let ca_key = dir.join("ca.key");
    if ca_key.exists() {
        return Err(format!(
            "{} already exists: {} has a CA already; issue another box's identity with \
             `pharos identity box NAME --address ADDRESS`, or give another --dir",
            ca_key.display(),
            dir.display()
        ));
    }
    let listen = parse_listen(listen)?;
    let ca = issue_ca()?;
    let me = issue_client(&ca, client)?;
    let boxed = issue_box(&ca, box_name, addresses)?;
    let box_dir = dir.join("boxes").join(box_name);
    // Nothing is written unless all of it can be.
    for p in [
        dir.join("ca.pem"),
        dir.join("client.pem"),
        dir.join("client.key"),
        box_dir.clone(),
    ] {
        if p.exists() {
            return Err(format!(
                "{} already exists; nothing was written; give another --dir, or move it away",
                p.display()
            ));
        }
    }
    make_dirs(dir)?;
    write(&dir.join("ca.pem"), &ca.cert, CERT)?;
    write(&ca_key, &ca.key, KEY)?;
    write(&dir.join("client.pem"), &me.cert, CERT)?;
    write(&dir.join("client.key"), &me.key, KEY)?;
    write_box(&box_dir, &ca, &boxed, listen)?;
    Ok(format!(
        "Created in {d}:\n\
         \x20 ca.pem, ca.key          the CA (ca.key issues identities: keep it here, and safe)\n\
         \x20 client.pem, client.key  you, \"{client}\"\n\
         \x20 boxes/{box_name}/{pad}box {box_name}'s identity\n\
         {next}",
        d = dir.display(),
        pad = " ".repeat(17usize.saturating_sub(box_name.len())),
        next = next_steps(dir, &box_dir, &addresses[0], listen),
    ))
}

/// `pharos identity box`: another box's identity, with the CA in `dir`.
pub fn add_box(
    dir: &Path,
    name: &str,
    addresses: &[String],
    listen: &str,
) -> Result<String, String> {
    let listen = parse_listen(listen)?;
    let ca = load_ca(dir)?;
    let boxed = issue_box(&ca, name, addresses)?;
    let box_dir = dir.join("boxes").join(name);
    write_box(&box_dir, &ca, &boxed, listen)?;
    Ok(format!(
        "Created box {name}'s identity in {}\n{}",
        box_dir.display(),
        next_steps(dir, &box_dir, &addresses[0], listen)
    ))
}

/// `pharos identity client`: another operator's identity, with the CA in
/// `dir`, as a directory ready for `--identity`.
pub fn add_client(dir: &Path, name: &str) -> Result<String, String> {
    let ca = load_ca(dir)?;
    let client = issue_client(&ca, name)?;
    let client_dir = dir.join("clients").join(name);
    make_dirs(&dir.join("clients"))?;
    make_dir(&client_dir)?;
    write(&client_dir.join("ca.pem"), &ca.cert, CERT)?;
    write(&client_dir.join("client.pem"), &client.cert, CERT)?;
    write(&client_dir.join("client.key"), &client.key, KEY)?;
    Ok(format!(
        "Created {name}'s identity in {d}\n\
         Give that directory to {name} (client.key is a secret: not by mail or chat), who puts it at \
         ~/.config/pharos/identity or uses it with --identity {d} (or $PHAROS_IDENTITY).\n",
        d = client_dir.display()
    ))
}

fn next_steps(dir: &Path, box_dir: &Path, address: &str, listen: SocketAddr) -> String {
    let target = match (listen.port(), address.parse::<IpAddr>()) {
        (9443, _) => address.to_string(),
        (port, Ok(IpAddr::V6(_))) => format!("[{address}]:{port}"),
        (port, _) => format!("{address}:{port}"),
    };
    let env = if dir == tls::default_client_dir() {
        String::new()
    } else {
        format!("PHAROS_IDENTITY={} ", dir.display())
    };
    format!(
        "Next:\n\
         \x20 1. Copy {b}/ to the box:\n\
         \x20    as identity/ on its config partition (the image), or as /etc/pharos/identity/\n\
         \x20    next to the config file when `pharos run` runs on a host.\n\
         \x20 2. Try it: {env}pharos remote {target} status\n",
        b = box_dir.display(),
    )
}

fn load_ca(dir: &Path) -> Result<Pem, String> {
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "reading {}: {}; create a CA with `pharos identity init`, or give the directory that has one with --dir",
                path.display(),
                io_reason(&e)
            )
        })
    };
    Ok(Pem {
        cert: read("ca.pem")?,
        key: read("ca.key")?,
    })
}

fn write_box(box_dir: &Path, ca: &Pem, boxed: &Pem, listen: SocketAddr) -> Result<(), String> {
    if let Some(parent) = box_dir.parent() {
        make_dirs(parent)?;
    }
    make_dir(box_dir)?;
    write(&box_dir.join("ca.pem"), &ca.cert, CERT)?;
    write(&box_dir.join("box.pem"), &boxed.cert, CERT)?;
    write(&box_dir.join("box.key"), &boxed.key, KEY)?;
    write(
        &box_dir.join("management.toml"),
        &format!("listen = \"{listen}\"\n"),
        CERT,
    )
}

/// The mode of certificates (and other public files).
const CERT: u32 = 0o644;
/// The mode of private keys.
const KEY: u32 = 0o600;

/// Creates `dir` and its parents as needed, 0700: they hold private keys.
fn make_dirs(dir: &Path) -> Result<(), String> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("creating {}: {}", dir.display(), io_reason(&e)))
}

/// Creates `dir`, 0700, which must not exist yet: an identity is never
/// overwritten (its key may be in use).
fn make_dir(dir: &Path) -> Result<(), String> {
    DirBuilder::new().mode(0o700).create(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists; to issue it again, move it away first",
                dir.display()
            )
        } else {
            format!("creating {}: {}", dir.display(), io_reason(&e))
        }
    })
}

/// Writes a new file created with `mode` (so a key is never readable by
/// others, not even until a chmod), and fsyncs it: a key that the CA
/// signed must not be lost to a crash.
fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            format!(
                "creating {}: {}; nothing there was overwritten",
                path.display(),
                io_reason(&e)
            )
        })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("writing {}: {}", path.display(), io_reason(&e)))
}

/// "No such file or directory", without the "(os error 2)".
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::tls::issue_client_with_validity;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn init_into(dir: &Path) -> String {
        init(
            dir,
            "lb1",
            &["127.0.0.1".to_string(), "lb1.example.net".to_string()],
            "0.0.0.0:9443",
            "admin",
        )
        .unwrap()
    }

    #[test]
    fn init_writes_every_file_and_keys_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("identity");
        let said = init_into(&dir);
        assert!(said.contains("pharos remote 127.0.0.1 status"), "{said}");
        assert!(said.contains("boxes/lb1/"), "{said}");
        let b = dir.join("boxes/lb1");
        for (p, m) in [
            (dir.clone(), 0o700),
            (dir.join("boxes"), 0o700),
            (b.clone(), 0o700),
            (dir.join("ca.key"), 0o600),
            (dir.join("client.key"), 0o600),
            (b.join("box.key"), 0o600),
        ] {
            assert_eq!(mode(&p), m, "{}", p.display());
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
            std::fs::read_to_string(b.join("ca.pem")).unwrap()
        );
        tls::server_config(&b).unwrap();
        tls::client_config(&dir).unwrap();
        assert_eq!(
            tls::load_management(&b).unwrap().unwrap().listen,
            "0.0.0.0:9443".parse::<SocketAddr>().unwrap()
        );
    }

    #[test]
    fn init_refuses_a_dir_with_a_ca() {
        let tmp = tempfile::tempdir().unwrap();
        init_into(tmp.path());
        let before = std::fs::read(tmp.path().join("ca.key")).unwrap();
        let e = init(tmp.path(), "lb2", &["10.0.0.2".into()], "0.0.0.0:9443", "x").unwrap_err();
        assert!(e.contains("ca.key already exists"), "{e}");
        assert_eq!(std::fs::read(tmp.path().join("ca.key")).unwrap(), before);
        assert!(!tmp.path().join("boxes/lb2").exists());
    }

    #[test]
    fn bad_arguments_write_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("id");
        let e = init(&d, "lb1", &[], "0.0.0.0:9443", "admin").unwrap_err();
        assert!(e.contains("no --address"), "{e}");
        let e = init(&d, "lb1", &["10.0.0.1:9443".into()], "0.0.0.0:9443", "a").unwrap_err();
        assert!(e.contains("neither an IP address nor a DNS name"), "{e}");
        let e = init(&d, "lb1", &["10.0.0.1".into()], "0.0.0.0", "admin").unwrap_err();
        assert!(e.contains("not an IP address and port"), "{e}");
        let e = init(&d, "../lb1", &["10.0.0.1".into()], "0.0.0.0:9443", "a").unwrap_err();
        assert!(e.contains("not a host name"), "{e}");
        let e = init(&d, "lb1", &["10.0.0.1".into()], "0.0.0.0:9443", "a/b").unwrap_err();
        assert!(e.contains("cannot name a directory"), "{e}");
        assert!(!d.exists());
    }

    #[test]
    fn box_and_client_use_the_ca_of_the_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        init_into(dir);
        let said = add_box(dir, "lb2", &["fd00::2".into()], "[::]:8443").unwrap();
        assert!(
            said.contains("pharos remote [fd00::2]:8443 status"),
            "{said}"
        );
        let b = dir.join("boxes/lb2");
        assert_eq!(mode(&b.join("box.key")), 0o600);
        tls::server_config(&b).unwrap();
        assert_eq!(
            std::fs::read_to_string(b.join("management.toml")).unwrap(),
            "listen = \"[::]:8443\"\n"
        );
        let e = add_box(dir, "lb2", &["fd00::2".into()], "[::]:8443").unwrap_err();
        assert!(e.contains("lb2 already exists"), "{e}");

        add_client(dir, "bob").unwrap();
        let c = dir.join("clients/bob");
        assert_eq!(mode(&c.join("client.key")), 0o600);
        assert_eq!(mode(&c), 0o700);
        tls::client_config(&c).unwrap();

        let nowhere = tmp.path().join("nowhere");
        let e = add_client(&nowhere, "bob").unwrap_err();
        assert!(
            e.contains("nowhere/ca.pem: No such file or directory; create a CA"),
            "{e}"
        );
    }

    /// How a connection went: the client's name as the server saw it, or
    /// the server's handshake error; and whether the client got the reply.
    #[derive(Debug)]
    struct Outcome {
        server: Result<String, String>,
        client_got_reply: bool,
    }

    /// One real TLS connection over loopback TCP: the server accepts one
    /// client, reads a line and answers with the client's name.
    async fn connect(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
    ) -> Outcome {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let serving = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
            let name = tls::peer_name(tls.get_ref().1.peer_certificates());
            let mut buf = [0u8; 5];
            tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            tls.write_all(name.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            tls.shutdown().await.map_err(|e| e.to_string())?;
            Ok(name)
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(client);
        let server_name = ServerName::try_from("127.0.0.1").unwrap();
        let client_got_reply = match connector.connect(server_name, tcp).await {
            Ok(mut tls) => {
                // With TLS 1.3 the client is done before the server has
                // checked its certificate: a refusal shows only here.
                let mut reply = String::new();
                tls.write_all(b"hello").await.is_ok()
                    && tls.read_to_string(&mut reply).await.is_ok()
                    && !reply.is_empty()
            }
            Err(_) => false,
        };
        Outcome {
            server: serving.await.unwrap(),
            client_got_reply,
        }
    }

    fn client_dir(tmp: &Path, sub: &str, ca: &str, client: &Pem) -> PathBuf {
        let d = tmp.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("ca.pem"), ca).unwrap();
        std::fs::write(d.join("client.pem"), &client.cert).unwrap();
        std::fs::write(d.join("client.key"), &client.key).unwrap();
        d
    }

    #[tokio::test]
    async fn handshakes_let_in_only_current_clients_of_the_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("identity");
        init_into(&dir);
        let server = tls::server_config(&dir.join("boxes/lb1")).unwrap();
        let ca = load_ca(&dir).unwrap();

        let good = connect(server.clone(), tls::client_config(&dir).unwrap()).await;
        assert_eq!(good.server, Ok("admin".to_string()), "{good:?}");
        assert!(good.client_got_reply, "{good:?}");

        // A client of another CA. Every pharos CA has the same name, so
        // webpki takes this one for ours and then finds its signature bad.
        let other_ca = issue_ca().unwrap();
        let stranger = issue_client(&other_ca, "mallory").unwrap();
        let d = client_dir(tmp.path(), "stranger", &ca.cert, &stranger);
        let o = connect(server.clone(), tls::client_config(&d).unwrap()).await;
        assert!(o.server.is_err() && !o.client_got_reply, "{o:?}");
        assert!(
            o.server
                .as_ref()
                .unwrap_err()
                .contains("invalid peer certificate"),
            "{o:?}"
        );

        // A client of the CA whose certificate has expired.
        let day = Duration::from_secs(24 * 60 * 60);
        let now = SystemTime::now();
        let old = issue_client_with_validity(&ca, "old", now - 30 * day, now - day).unwrap();
        let d = client_dir(tmp.path(), "old", &ca.cert, &old);
        let o = connect(server.clone(), tls::client_config(&d).unwrap()).await;
        assert!(o.server.is_err() && !o.client_got_reply, "{o:?}");
        assert!(o.server.as_ref().unwrap_err().contains("expired"), "{o:?}");

        // A box's certificate is not a client's, though the CA signed it.
        let b = dir.join("boxes/lb1");
        let as_client = Pem {
            cert: std::fs::read_to_string(b.join("box.pem")).unwrap(),
            key: std::fs::read_to_string(b.join("box.key")).unwrap(),
        };
        let d = client_dir(tmp.path(), "boxy", &ca.cert, &as_client);
        let o = connect(server.clone(), tls::client_config(&d).unwrap()).await;
        assert!(o.server.is_err() && !o.client_got_reply, "{o:?}");
        assert!(
            o.server
                .as_ref()
                .unwrap_err()
                .contains("client authentication"),
            "{o:?}"
        );

        // The client refuses a box of another CA.
        let d = client_dir(
            tmp.path(),
            "elsewhere",
            &other_ca.cert,
            &issue_client(&other_ca, "eve").unwrap(),
        );
        let o = connect(server, tls::client_config(&d).unwrap()).await;
        assert!(o.server.is_err() && !o.client_got_reply, "{o:?}");
        // The client hung up on the server's certificate.
        assert!(o.server.as_ref().unwrap_err().contains("alert"), "{o:?}");
    }
}
