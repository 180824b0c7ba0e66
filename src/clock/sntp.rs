//! One SNTP exchange (RFC 4330 §5): a client request, the server's reply
//! checked, the offset and delay worked out. The packet, its checks and
//! the arithmetic are sntpc's (RFC 5905 §A.5.1.1: the origin timestamp
//! must be ours, mode 4, no Kiss-o'-Death, LI not 3, stratum 1 to 15, a
//! transmit timestamp that is not zero, a sane root distance); here the
//! socket, the timeout, and the refusal turned into a sentence and into
//! what it means for whom to ask next (`discipline::Failure`).
//!
//! [`exchange`] is generic over the socket and the clock it reads, so the
//! reply checks are unit tests with made-up replies and no network.

use std::net::SocketAddr;
use std::time::Duration;

use sntpc::{Error as NtpError, KissOfDeathCode, NtpContext, NtpTimestampGenerator, NtpUdpSocket};

use super::discipline::Failure;

/// What one answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub server: SocketAddr,
    /// Server minus us, microseconds.
    pub offset_us: i64,
    /// Round trip, microseconds.
    pub delay_us: u64,
    pub stratum: u8,
}

/// Why an exchange gave no offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}")]
pub struct Refused {
    pub what: String,
    pub failure: Failure,
}

impl Refused {
    fn other(what: String) -> Refused {
        Refused {
            what,
            failure: Failure::Other,
        }
    }
}

/// One request to `server` and its checked reply, over `socket`, with
/// `clock` read for the request's and the reply's timestamps.
pub async fn exchange<U: NtpUdpSocket, T: NtpTimestampGenerator + Copy>(
    server: SocketAddr,
    socket: &U,
    clock: T,
) -> Result<Answer, Refused> {
    match sntpc::get_time(server, socket, NtpContext::new(clock)).await {
        Ok(r) => Ok(Answer {
            server,
            offset_us: r.offset(),
            delay_us: r.roundtrip(),
            stratum: r.stratum(),
        }),
        Err(e) => Err(refused(server, e)),
    }
}

/// A refusal as a sentence: what came back, from whom, what it means.
fn refused(server: SocketAddr, e: NtpError) -> Refused {
    let bad = |why: &str| {
        Refused::other(format!(
            "NTP server {server} answered badly: {why}; asking the next server"
        ))
    };
    match e {
        NtpError::KissOfDeath(code) => {
            let failure = match code {
                KissOfDeathCode::Deny | KissOfDeathCode::Rstr => Failure::Deny,
                KissOfDeathCode::Rate => Failure::Rate,
                _ => Failure::Other,
            };
            let then = match failure {
                Failure::Deny => {
                    "it refuses this box: it is not asked again until a reload (RFC 4330 §8)"
                }
                Failure::Rate => "it asks us to poll less often: the poll is doubled",
                Failure::Other => "asking the next server",
            };
            Refused {
                what: format!(
                    "NTP server {server} sent a Kiss-o'-Death ({}): {then}",
                    code.as_str()
                ),
                failure,
            }
        }
        NtpError::IncorrectOriginTimestamp => {
            bad("its origin timestamp is not our request's (a stray or forged reply)")
        }
        NtpError::IncorrectMode => bad("not a server reply (mode is not 4)"),
        NtpError::UnsynchronizedClock => {
            bad("its own clock is not synchronised (leap indicator 3)")
        }
        NtpError::InvalidTimestamp => bad("its transmit timestamp is zero"),
        NtpError::ExcessiveRootDistance => bad("its root distance is too large to trust"),
        NtpError::BackwardReferenceTimestamp => {
            bad("its reference timestamp is later than its transmit timestamp")
        }
        NtpError::IncorrectResponseVersion => bad("an NTP version we did not ask for"),
        NtpError::IncorrectStratumHeaders => bad("stratum 16 or more (unsynchronised)"),
        NtpError::IncorrectPayload => bad("a reply shorter than an NTP packet"),
        NtpError::ResponseAddressMismatch => bad("the reply came from another address"),
        NtpError::Network | NtpError::AddressResolve => Refused::other(format!(
            "sending an NTP request to {server} failed; is the network up and is there a route to it?"
        )),
        e => bad(&format!("{e:?}")),
    }
}

/// A UDP socket connected to one server, for sntpc.
struct Udp(tokio::net::UdpSocket);

impl NtpUdpSocket for Udp {
    async fn send_to(&self, buf: &[u8], _addr: SocketAddr) -> sntpc::Result<usize> {
        self.0.send(buf).await.map_err(|_| NtpError::Network)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> sntpc::Result<(usize, SocketAddr)> {
        // Connected: the kernel passes only the server's datagrams.
        let n = self.0.recv(buf).await.map_err(|_| NtpError::Network)?;
        let from = self.0.peer_addr().map_err(|_| NtpError::Network)?;
        Ok((n, from))
    }
}

/// Asks `server` over the network, waiting up to `timeout` for the answer.
pub async fn ask(server: SocketAddr, timeout: Duration) -> Result<Answer, Refused> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |what: &str, e: std::io::Error| {
        Refused::other(format!(
            "{what} for NTP server {server}: {e}; is the network up and is there a route to it?"
        ))
    };
    let socket = tokio::net::UdpSocket::bind(any)
        .await
        .map_err(|e| io("opening a UDP socket", e))?;
    socket
        .connect(server)
        .await
        .map_err(|e| io("connecting a UDP socket", e))?;
    let udp = Udp(socket);
    match tokio::time::timeout(
        timeout,
        exchange(server, &udp, sntpc::StdTimestampGen::default()),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(Refused::other(format!(
            "NTP server {server} did not answer within {} ms; asking the next server",
            timeout.as_millis()
        ))),
    }
}

#[cfg(test)]
mod tests {
    //! Made-up replies to a real request, checked as a real one is: the
    //! reply checks of RFC 4330 §5, each a case.

    use std::cell::RefCell;

    use super::*;

    /// 2026-12-06T12:00:00Z, the client's clock (Unix seconds).
    const NOW: u64 = 1_796_558_400;
    /// NTP's era starts 70 years before Unix's (RFC 5905 §6).
    const NTP_UNIX: u64 = 2_208_988_800;

    /// A clock that reads `NOW` plus the microseconds it is told.
    #[derive(Clone, Copy)]
    struct Fixed(u64, u32);

    impl NtpTimestampGenerator for Fixed {
        fn init(&mut self) {}
        fn timestamp_sec(&self) -> u64 {
            self.0
        }
        fn timestamp_subsec_micros(&self) -> u32 {
            self.1
        }
    }

    /// What a server answers: its fields, with the request's transmit
    /// timestamp as the origin unless `origin` says otherwise.
    #[derive(Clone, Copy)]
    struct Reply {
        li: u8,
        mode: u8,
        stratum: u8,
        refid: [u8; 4],
        /// Server time minus ours, seconds.
        ahead: u64,
        origin: Option<u64>,
        zero_transmit: bool,
    }

    fn good() -> Reply {
        Reply {
            li: 0,
            mode: 4,
            stratum: 2,
            refid: *b"GPS\0",
            ahead: 0,
            origin: None,
            zero_transmit: false,
        }
    }

    struct FakeServer {
        reply: Reply,
        request: RefCell<Option<[u8; 48]>>,
    }

    fn ntp(unix: u64) -> u64 {
        (unix + NTP_UNIX) << 32
    }

    impl NtpUdpSocket for FakeServer {
        async fn send_to(&self, buf: &[u8], _: SocketAddr) -> sntpc::Result<usize> {
            let mut r = [0u8; 48];
            r.copy_from_slice(&buf[..48]);
            *self.request.borrow_mut() = Some(r);
            Ok(buf.len())
        }

        async fn recv_from(&self, buf: &mut [u8]) -> sntpc::Result<(usize, SocketAddr)> {
            let req = self.request.borrow().expect("a request was sent");
            let r = self.reply;
            let mut p = [0u8; 48];
            p[0] = (r.li << 6) | (4 << 3) | r.mode;
            p[1] = r.stratum;
            p[2] = 6;
            p[3] = 0xec; // precision -20
            p[12..16].copy_from_slice(&r.refid);
            let server_now = ntp(NOW + r.ahead);
            // Reference time: a minute before.
            p[16..24].copy_from_slice(&(server_now - (60 << 32)).to_be_bytes());
            // Origin: the request's transmit timestamp (bytes 40..48).
            let origin = r
                .origin
                .map_or(req[40..48].try_into().unwrap(), u64::to_be_bytes);
            p[24..32].copy_from_slice(&origin);
            p[32..40].copy_from_slice(&server_now.to_be_bytes());
            let tx = if r.zero_transmit { 0 } else { server_now };
            p[40..48].copy_from_slice(&tx.to_be_bytes());
            buf[..48].copy_from_slice(&p);
            Ok((48, server()))
        }
    }

    fn server() -> SocketAddr {
        ([10, 0, 0, 1], 123).into()
    }

    fn ask(reply: Reply) -> Result<Answer, Refused> {
        let fake = FakeServer {
            reply,
            request: RefCell::new(None),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(exchange(server(), &fake, Fixed(NOW, 0)))
    }

    #[test]
    fn a_good_reply_gives_the_offset_of_a_clock_years_behind() {
        let years = 25 * 365 * 86_400;
        let a = ask(Reply {
            ahead: years,
            ..good()
        })
        .expect("a good reply");
        assert_eq!(a.offset_us, i64::try_from(years).unwrap() * 1_000_000);
        assert_eq!(a.stratum, 2);
        assert_eq!(a.server, server());
        assert_eq!(ask(good()).unwrap().offset_us, 0);
    }

    #[test]
    fn kiss_o_death_deny_and_rstr_drop_the_server_and_rate_slows_down() {
        let kiss = |code: &[u8; 4]| {
            ask(Reply {
                stratum: 0,
                refid: *code,
                ..good()
            })
            .unwrap_err()
        };
        let deny = kiss(b"DENY");
        assert_eq!(deny.failure, Failure::Deny);
        assert!(deny.what.contains("Kiss-o'-Death (DENY)"), "{}", deny.what);
        assert!(deny.what.contains("10.0.0.1:123"), "{}", deny.what);
        assert_eq!(kiss(b"RSTR").failure, Failure::Deny);
        assert_eq!(kiss(b"RATE").failure, Failure::Rate);
        assert_eq!(kiss(b"INIT").failure, Failure::Other);
    }

    #[test]
    fn unsynchronised_servers_are_refused() {
        let e = ask(Reply {
            stratum: 16,
            ..good()
        })
        .unwrap_err();
        assert!(e.what.contains("stratum 16"), "{}", e.what);
        assert_eq!(e.failure, Failure::Other);
        let e = ask(Reply { li: 3, ..good() }).unwrap_err();
        assert!(e.what.contains("leap indicator 3"), "{}", e.what);
    }

    #[test]
    fn a_zero_transmit_time_is_refused() {
        let e = ask(Reply {
            zero_transmit: true,
            ..good()
        })
        .unwrap_err();
        assert!(e.what.contains("transmit timestamp is zero"), "{}", e.what);
    }

    #[test]
    fn a_reply_to_another_request_is_refused() {
        let e = ask(Reply {
            origin: Some(ntp(NOW - 5)),
            ..good()
        })
        .unwrap_err();
        assert!(e.what.contains("origin timestamp"), "{}", e.what);
    }

    #[test]
    fn a_reply_that_is_not_a_server_reply_is_refused() {
        let e = ask(Reply { mode: 3, ..good() }).unwrap_err();
        assert!(e.what.contains("mode is not 4"), "{}", e.what);
    }
}
