//! What a load of a big file leaves for the next one: each service's block
//! of text (its `[services.NAME…]` tables, as `chunked::services_apart`
//! cuts them) by hash, with the service typed from it, and the hash of the
//! text around the services.
//!
//! A reload of 10,000 services that changes a hundred of them parses and
//! types only those; the others are taken from here. This is a cache of
//! pure functions of the text, not a record of what runs: a service's
//! typed value depends only on its block, and what the validation says of
//! it alone only on its block and the rest of the file (`[vrrp]`,
//! `[checks]`, interfaces, ...), so a block whose text and whose file's
//! rest are both unchanged is the same typed service, as valid as before.
//! What a service is beside the others (the same VIP twice, a tracked
//! service that is gone, the modules all of them need) is checked again
//! over all of them on every load.
//!
//! Talks to: nobody. The streamed check (`config::check_streamed`) reads
//! and makes it; the runtime keeps the last one between reloads.

use std::sync::Arc;

use foldhash::HashMap;

use super::model::Service;

/// Names of services: those a load took unchanged from the memo, which
/// the desired state of each subsystem takes from the last one in turn.
pub type Names = foldhash::HashSet<String>;

/// The typed services of the last big file loaded the streamed way.
#[derive(Clone, Default)]
pub struct Memo {
    /// The hash of everything in the file but the services.
    pub(super) rest: u128,
    /// Each service by its block's hash, typed from that block (shared
    /// with the config loaded). A block begins with its service's
    /// `[services.NAME]` header, so its hash stands for the name too: a
    /// reload finds each of 10,000 services by a number, not by hashing
    /// and comparing its name, and the memo keeps no names.
    pub(super) services: HashMap<u128, Arc<Service>>,
}

impl Memo {
    /// How many services it holds.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The service typed from a block of this hash in a file whose rest
    /// had the hash `rest`.
    pub(super) fn get(&self, rest: u128, block: u128) -> Option<&Arc<Service>> {
        if rest != self.rest {
            return None;
        }
        self.services.get(&block)
    }
}

/// 10,000 services and their typed values are not worth printing.
impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({} services)", self.services.len())
    }
}

/// A text's hash: XXH3's 128 bits (a tenth of SipHash's time over the 4
/// MB of a 10,000-service file). A collision would take a changed block
/// for an unchanged one; at 128 bits and a few thousand blocks per reload
/// its odds are below 10^-30 per reload for text not made to collide, and
/// the file is written by whoever could write any config.
pub(super) fn hash(text: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}
