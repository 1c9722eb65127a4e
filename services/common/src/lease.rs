//! A worker's time-limited hold on a queued item (a run being executed, a file being
//! indexed): the queue rows carry the holder and the expiry, and an item whose holder's
//! lease ran out is taken over by another worker.

use std::time::Duration;

use crate::time::now_ms;

/// Who holds an item, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder.
    pub owner: String,
    /// Unix milliseconds.
    pub until_ms: i64,
}

impl Lease {
    /// `owner`'s lease for `ttl` from now.
    pub fn for_next(owner: &str, ttl: Duration) -> Self {
        Self { owner: owner.to_owned(), until_ms: now_ms() + ttl.as_millis() as i64 }
    }

    /// `owner`'s lease already over: identifies the holder when handing an item back.
    pub fn lapsed(owner: &str) -> Self {
        Self { owner: owner.to_owned(), until_ms: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_next_lies_ahead_and_lapsed_is_over() {
        let before = now_ms();
        let l = Lease::for_next("w", Duration::from_secs(60));
        assert_eq!(l.owner, "w");
        assert!(l.until_ms >= before + 60_000 && l.until_ms <= now_ms() + 60_000);
        assert!(Lease::lapsed("w").until_ms < before);
    }
}
