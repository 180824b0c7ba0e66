//! The difference between two slices of the config, as a subsystem sees it:
//! named items added, changed and removed. A reload hands each subsystem
//! only this, so what did not change keeps its state (no VIP flap, no IPVS
//! churn, no reset of rise/fall counters).

use std::collections::BTreeMap;

/// One subsystem's part of the config: named items.
pub type Slice<T> = BTreeMap<String, T>;

#[derive(Debug, Clone, PartialEq)]
pub struct Diff<T> {
    pub added: Vec<(String, T)>,
    pub changed: Vec<(String, T)>,
    pub removed: Vec<String>,
}

impl<T> Default for Diff<T> {
    fn default() -> Self {
        Diff {
            added: Vec::new(),
            changed: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl<T: Clone + PartialEq> Diff<T> {
    /// What turns `old` into `new`, in one merge pass over both (sorted) maps.
    pub fn between(old: &Slice<T>, new: &Slice<T>) -> Self {
        let mut d = Diff::default();
        let mut o = old.iter().peekable();
        let mut n = new.iter().peekable();
        loop {
            match (o.peek(), n.peek()) {
                (Some((ok, ov)), Some((nk, nv))) => match ok.cmp(nk) {
                    std::cmp::Ordering::Less => {
                        d.removed.push((*ok).clone());
                        o.next();
                    }
                    std::cmp::Ordering::Greater => {
                        d.added.push(((*nk).clone(), (*nv).clone()));
                        n.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if ov != nv {
                            d.changed.push(((*nk).clone(), (*nv).clone()));
                        }
                        o.next();
                        n.next();
                    }
                },
                (Some((ok, _)), None) => {
                    d.removed.push((*ok).clone());
                    o.next();
                }
                (None, Some((nk, nv))) => {
                    d.added.push(((*nk).clone(), (*nv).clone()));
                    n.next();
                }
                (None, None) => return d,
            }
        }
    }
}

impl<T> Diff<T> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// `+1 ~2 -0`, for logs and events.
    pub fn summary(&self) -> String {
        format!(
            "+{} ~{} -{}",
            self.added.len(),
            self.changed.len(),
            self.removed.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(items: &[(&str, i32)]) -> Slice<i32> {
        items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn only_what_differs_is_in_the_diff() {
        let old = slice(&[("a", 1), ("b", 2), ("c", 3)]);
        let new = slice(&[("b", 2), ("c", 30), ("d", 4)]);
        let d = Diff::between(&old, &new);
        assert_eq!(d.added, vec![("d".to_string(), 4)]);
        assert_eq!(d.changed, vec![("c".to_string(), 30)]);
        assert_eq!(d.removed, vec!["a".to_string()]);
        assert_eq!(d.summary(), "+1 ~1 -1");
        assert!(Diff::between(&new, &new).is_empty());
    }
}
