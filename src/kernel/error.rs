//! What a kernel request can come to, typed so that a caller decides on the
//! errno (an address already gone is what a removal wanted), not on the
//! words of a message.

use nix::errno::Errno;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// The kernel answered the request with an errno.
    #[error("{what}: {}", super::nla::refusal(*.errno as i32))]
    Refused { what: String, errno: Errno },
    /// The request could not be made or its answer not read.
    #[error("{what}: {why}")]
    Failed { what: String, why: String },
}

impl KernelError {
    /// The kernel's errno, when it refused.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            KernelError::Refused { errno, .. } => Some(*errno),
            KernelError::Failed { .. } => None,
        }
    }

    /// A refusal that says the object is not there (`ENOENT`,
    /// `EADDRNOTAVAIL`, `ENODEV`, `ESRCH`): for a removal, done already.
    pub fn is_gone(&self) -> bool {
        matches!(
            self.errno(),
            Some(Errno::ENOENT | Errno::EADDRNOTAVAIL | Errno::ENODEV | Errno::ESRCH)
        )
    }
}

/// For callers that report errors as text.
impl From<KernelError> for String {
    fn from(e: KernelError) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_a_sentence_and_keeps_its_errno() {
        let e = KernelError::Refused {
            what: "removing 10.0.0.1/24 from eth0".into(),
            errno: Errno::EADDRNOTAVAIL,
        };
        assert_eq!(
            e.to_string(),
            "removing 10.0.0.1/24 from eth0: the kernel refused: Cannot assign requested address (errno 99)"
        );
        assert!(e.is_gone());
        let busy = KernelError::Refused {
            what: "x".into(),
            errno: Errno::EBUSY,
        };
        assert!(!busy.is_gone());
        let failed = KernelError::Failed {
            what: "x".into(),
            why: "socket closed".into(),
        };
        assert_eq!(failed.errno(), None);
        assert_eq!(String::from(failed), "x: socket closed");
    }
}
