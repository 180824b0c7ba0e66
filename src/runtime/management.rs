//! The management API: the admin verbs (`admin.rs`) over TCP with mutual
//! TLS, for boxes that have no shell. What lets a client in, the box's own
//! key and where to listen live in the identity directory beside the config
//! (`/config/identity/` on the image: `ca.pem`, `box.pem`, `box.key`,
//! `management.toml`), not in `pharos.toml`, so a broken config never
//! locks the operator out: a box in maintenance mode serves the API too.
//! Clients are named by their certificate in events and logs.
//!
//! Limits: [`MAX_CONNECTIONS`] at once (more wait for the handshake slot
//! and are dropped after [`HANDSHAKE_TIMEOUT`]), the handshake within
//! [`HANDSHAKE_TIMEOUT`], the request within `admin::REQUEST_TIMEOUT` and
//! `admin::MAX_REQUEST` bytes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::admin::{Ops, Who};
use super::changes::Fixed;
use super::supervisor::{Subsystem, TaskCtx, TaskFuture};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a client has for the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves from `dir`, read at each start of the task (it has no part of
/// the config).
pub struct ManagementServer {
    pub ops: Arc<Ops>,
    pub dir: PathBuf,
}

impl Subsystem for ManagementServer {
    type Part = Fixed;

    fn name(&self) -> &'static str {
        "management"
    }

    /// Last to stop, with the control socket: the one that asked for a
    /// reboot hears back.
    fn shutdown_rank(&self) -> u8 {
        220
    }

    fn run(self: Arc<Self>, ctx: TaskCtx<Fixed>) -> TaskFuture {
        Box::pin(async move {
            let dir = &self.dir;
            let setting = super::tls::load_management(dir)?;
            let Some(setting) = setting else {
                return Err(format!(
                    "{} is gone; the management API is off until it is back",
                    dir.join("management.toml").display()
                ));
            };
            if let Some(nic) = &setting.interface {
                let nic = nic.clone();
                tokio::task::spawn_blocking(move || nic_up(&nic))
                    .await
                    .map_err(|e| format!("setting up the management NIC: {e}"))??;
            }
            let tls = super::tls::server_config(dir)?;
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            let listener = tokio::net::TcpListener::bind(setting.listen)
                .await
                .map_err(|e| {
                    format!(
                        "binding the management API to {}: {e}; fix `listen` in {}",
                        setting.listen,
                        dir.join("management.toml").display()
                    )
                })?;
            tracing::info!(
                task = "management",
                "management API on {} (mutual TLS, clients of {})",
                setting.listen,
                dir.join("ca.pem").display()
            );
            ctx.ready.mark("management");
            let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
            loop {
                let (tcp, peer) = tokio::select! {
                    () = ctx.cancel.cancelled() => return Ok(()),
                    a = listener.accept() => a.map_err(|e| format!("accepting on the management API: {e}"))?,
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(
                        task = "management",
                        "{peer}: {MAX_CONNECTIONS} connections already; dropped"
                    );
                    continue;
                };
                let (acceptor, shared, ops) =
                    (acceptor.clone(), ctx.shared.clone(), self.ops.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    let tls =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(t)) => t,
                            Ok(Err(e)) => {
                                // Refused clients are logged, not sent to events:
                                // anyone can knock.
                                tracing::warn!(
                                    task = "management",
                                    "{peer}: TLS handshake refused: {e}"
                                );
                                return;
                            }
                            Err(_) => {
                                tracing::warn!(
                                    task = "management",
                                    "{peer}: no TLS handshake within {} s",
                                    HANDSHAKE_TIMEOUT.as_secs()
                                );
                                return;
                            }
                        };
                    let name = super::tls::peer_name(tls.get_ref().1.peer_certificates());
                    let who = Who(format!("{name} ({peer})"));
                    tracing::info!(task = "management", "{}: connected", who.0);
                    if let Err(e) = super::admin::serve(tls, shared, ops, who.clone()).await {
                        tracing::debug!(task = "management", "{}: connection ended: {e}", who.0);
                    }
                });
            }
        })
    }
}

/// The management NIC up with its address (`[interface]` of
/// `management.toml`), whatever `pharos.toml` says: the way in must not
/// depend on the config it is there to fix. An error gets the task
/// restarted (with backoff), so a NIC that appears late is set up then.
fn nic_up(nic: &super::tls::ManagementNic) -> Result<(), String> {
    let cidr: crate::config::types::Cidr = nic
        .address
        .parse()
        .map_err(|e: String| format!("the management address {}: {e}", nic.address))?;
    let rtnl = crate::kernel::rtnl::Rtnl::connect()?;
    let link = rtnl
        .links()?
        .into_iter()
        .find(|l| l.name == nic.name)
        .ok_or_else(|| {
            format!(
                "the management NIC {} is not there; fix `interface.name` in management.toml",
                nic.name
            )
        })?;
    if !link.up {
        rtnl.set_link(&nic.name, link.index, Some(true), None)?;
    }
    rtnl.add_mgmt_addr(&nic.name, link.index, &cidr)
        .map_err(String::from)?;
    tracing::info!(
        task = "management",
        "management NIC {} up with {cidr}",
        nic.name
    );
    Ok(())
}
