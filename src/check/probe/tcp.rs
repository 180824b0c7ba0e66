//! The tcp probe (keepalived's TCP_CHECK): a connect that completes is a
//! pass; the connection is closed at once. Also owns the connect step that
//! the http and https probes start with.

use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use super::{Deadline, Failure, Outcome, io_reason};

pub struct Tcp {
    target: SocketAddr,
    bind: Option<IpAddr>,
}

impl Tcp {
    pub(crate) fn new(target: SocketAddr, bind: Option<IpAddr>) -> Tcp {
        Tcp { target, bind }
    }

    pub(crate) async fn run(&self, deadline: Deadline) -> Outcome {
        // Dropping the stream closes it: nothing is sent, as with keepalived.
        connect(self.target, self.bind, deadline).await.map(drop)
    }

    /// Where it connects to, and from.
    pub(crate) fn target(&self) -> (SocketAddr, Option<IpAddr>) {
        (self.target, self.bind)
    }

    pub(crate) fn describe(&self) -> String {
        match self.bind {
            Some(b) => format!("tcp connect {} from {b}", self.target),
            None => format!("tcp connect {}", self.target),
        }
    }
}

/// Connects to `target`, from `bind` if set, within the deadline.
pub(crate) async fn connect(
    target: SocketAddr,
    bind: Option<IpAddr>,
    deadline: Deadline,
) -> Result<TcpStream, Failure> {
    let sock = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| socket_failure(&e))?;
    if let Some(ip) = bind {
        sock.bind(SocketAddr::new(ip, 0))
            .map_err(|e| bind_failure(ip, &e))?;
    }
    deadline.io_step("connecting", sock.connect(target)).await
}

/// The socket for a connect could not be made (out of files, most likely).
pub(crate) fn socket_failure(e: &std::io::Error) -> Failure {
    Failure::new(format!("cannot create a TCP socket: {}", io_reason(e)))
}

/// `bind_to` could not be bound.
pub(crate) fn bind_failure(ip: IpAddr, e: &std::io::Error) -> Failure {
    Failure::new(format!("cannot bind to {ip} (`bind_to`): {}", io_reason(e)))
}
