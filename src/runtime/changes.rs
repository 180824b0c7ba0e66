//! How a subsystem's part of the desired state changed on a reload, counted
//! by name: what the reload event says (`ipvs +0 ~1 -0`). The supervisor
//! hands a task its new part only when this is not empty, so what did not
//! change keeps its state (no VIP flap, no IPVS churn, no reset of
//! rise/fall counters); the task itself diffs by name where it keeps state.

use std::collections::BTreeMap;
use std::fmt::Debug;

use itertools::Itertools;

/// A subsystem's typed part of the desired state, worked out once per
/// config load by the layer above the runtime.
pub trait Part: PartialEq + Debug + Send + Sync + 'static {
    /// What differs from `old`, by name.
    fn changes(&self, old: &Self) -> Changes;
}

/// The part of a task that takes nothing from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed;

impl Part for Fixed {
    fn changes(&self, _: &Self) -> Changes {
        Changes::default()
    }
}

/// The projection for a task with a [`Fixed`] part.
pub fn fixed<D>(_: &D) -> std::sync::Arc<Fixed> {
    std::sync::Arc::new(Fixed)
}

/// Named items added, changed and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
}

impl Changes {
    /// Between two collections of named items: walked side by side, in
    /// key order (a search of the other map for each of 10,000 services,
    /// both ways, took a reload's supervisor tens of milliseconds in the
    /// VM lab).
    pub fn between<K: Ord, V: PartialEq>(old: &BTreeMap<K, V>, new: &BTreeMap<K, V>) -> Self {
        use itertools::EitherOrBoth::{Both, Left, Right};
        let mut c = Changes::default();
        for e in old.iter().merge_join_by(new, |(a, _), (b, _)| a.cmp(b)) {
            match e {
                Left(_) => c.removed += 1,
                Right(_) => c.added += 1,
                Both((_, o), (_, n)) if o != n => c.changed += 1,
                Both(..) => {}
            }
        }
        c
    }

    /// Between two optional single items (one name).
    pub fn of_option<V: PartialEq>(old: Option<&V>, new: Option<&V>) -> Self {
        let mut c = Changes::default();
        match (old, new) {
            (None, Some(_)) => c.added = 1,
            (Some(_), None) => c.removed = 1,
            (Some(o), Some(n)) if o != n => c.changed = 1,
            _ => {}
        }
        c
    }

    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// `+1 ~2 -0`, for logs and events.
    pub fn summary(&self) -> String {
        format!("+{} ~{} -{}", self.added, self.changed, self.removed)
    }
}

impl std::ops::Add for Changes {
    type Output = Changes;
    fn add(self, o: Changes) -> Changes {
        Changes {
            added: self.added + o.added,
            changed: self.changed + o.changed,
            removed: self.removed + o.removed,
        }
    }
}

impl std::iter::Sum for Changes {
    fn sum<I: Iterator<Item = Changes>>(iter: I) -> Changes {
        iter.fold(Changes::default(), |a, b| a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_differs_is_counted() {
        let old: BTreeMap<&str, i32> = [("a", 1), ("b", 2), ("c", 3)].into();
        let new: BTreeMap<&str, i32> = [("b", 2), ("c", 30), ("d", 4)].into();
        let c = Changes::between(&old, &new);
        assert_eq!(c.summary(), "+1 ~1 -1");
        assert!(Changes::between(&new, &new).is_empty());
        assert_eq!(Changes::of_option(Some(&1), Some(&2)).summary(), "+0 ~1 -0");
        assert_eq!(Changes::of_option(None, Some(&2)).summary(), "+1 ~0 -0");
        assert_eq!((c + c).summary(), "+2 ~2 -2");
        // Interleaved, and gone or new at either end.
        let old: BTreeMap<u32, i32> = [(1, 0), (3, 0), (4, 0), (6, 0), (9, 0)].into();
        let new: BTreeMap<u32, i32> = [(0, 0), (3, 1), (5, 0), (6, 0), (7, 0)].into();
        assert_eq!(Changes::between(&old, &new).summary(), "+3 ~1 -3");
        assert_eq!(
            Changes::between(&BTreeMap::new(), &new).summary(),
            "+5 ~0 -0"
        );
        assert_eq!(
            Changes::between(&old, &BTreeMap::new()).summary(),
            "+0 ~0 -5"
        );
    }
}
