//! Account lockout for executive log-in, in the manner of NIST SP 800-63B §5.2.2 and OWASP's
//! authentication guidance: failed attempts are counted per account (tenant + e-mail, whether or
//! not the account exists, so the answer never tells which), the first few are free, and each
//! further failure locks the account for twice as long as the previous one, up to a ceiling.
//! While locked, no password is checked at all — not even the right one — and the caller is told
//! when to come back. A success clears the count; so does a quiet day.
//!
//! The delay is a lock, not a sleep: holding connections open would hand an attacker the very
//! resource the lock protects. State lives in memory, per process, bounded in size.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

use crate::ids::TenantId;

/// How quickly failures lock an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that cost nothing (typos).
    pub free_failures: u32,
    /// Lock after the first counted failure; doubles with each further one.
    pub first_lock: Duration,
    /// The longest lock.
    pub max_lock: Duration,
    /// A count older than this (since the last failure) starts over.
    pub forget_after: Duration,
    /// Accounts tracked at once; the stalest entry makes room for a new one.
    pub max_tracked: usize,
}

impl Default for LockoutPolicy {
    /// Five free failures, then 30 s, 1 min, 2 min, … up to 15 min per failure: an online
    /// guesser gets about four tries an hour once the lock has grown.
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_lock: Duration::seconds(30),
            max_lock: Duration::minutes(15),
            forget_after: Duration::hours(24),
            max_tracked: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: OffsetDateTime,
    locked_until: OffsetDateTime,
}

/// Failure counts per account.
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    entries: Mutex<HashMap<(TenantId, String), Entry>>,
}

/// The account is locked; try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked(pub Duration);

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Self {
        Self { policy, entries: Mutex::new(HashMap::new()) }
    }

    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    /// Accounts are named by e-mail, compared without case or surrounding space.
    fn key(tenant: TenantId, email: &str) -> (TenantId, String) {
        (tenant, email.trim().to_lowercase())
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), Entry>> {
        // A panic while holding the lock cannot leave an entry half-written: recover the map.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a password may be checked for this account now.
    pub fn check(&self, tenant: TenantId, email: &str, now: OffsetDateTime) -> Result<(), Locked> {
        match self.entries().get(&Self::key(tenant, email)) {
            Some(e) if e.locked_until > now => Err(Locked(e.locked_until - now)),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt; returns the lock it caused, if any.
    pub fn failed(&self, tenant: TenantId, email: &str, now: OffsetDateTime) -> Option<Locked> {
        let key = Self::key(tenant, email);
        let mut entries = self.entries();
        if !entries.contains_key(&key) && entries.len() >= self.policy.max_tracked {
            self.make_room(&mut entries, now);
        }
        let entry = entries.entry(key).or_insert(Entry { failures: 0, last_failure: now, locked_until: now });
        if now - entry.last_failure > self.policy.forget_after {
            *entry = Entry { failures: 0, last_failure: now, locked_until: now };
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        let counted = entry.failures.saturating_sub(self.policy.free_failures);
        if counted == 0 {
            return None;
        }
        let lock = self.lock_for(counted);
        entry.locked_until = now + lock;
        Some(Locked(lock))
    }

    /// A successful log-in forgets the account's failures.
    pub fn succeeded(&self, tenant: TenantId, email: &str) {
        self.entries().remove(&Self::key(tenant, email));
    }

    /// The lock after the `n`-th counted failure (n ≥ 1).
    fn lock_for(&self, n: u32) -> Duration {
        let factor = 2i32.saturating_pow(n.saturating_sub(1).min(20));
        (self.policy.first_lock * factor).min(self.policy.max_lock)
    }

    /// Drops forgotten entries, or failing that the one whose last failure is oldest and which is
    /// not locked (a full table never unlocks an account early unless every entry is locked).
    fn make_room(&self, entries: &mut HashMap<(TenantId, String), Entry>, now: OffsetDateTime) {
        entries.retain(|_, e| now - e.last_failure <= self.policy.forget_after);
        if entries.len() < self.policy.max_tracked {
            return;
        }
        let victim = entries.iter().min_by_key(|(_, e)| (e.locked_until > now, e.last_failure)).map(|(k, _)| k.clone());
        if let Some(victim) = victim {
            entries.remove(&victim);
        }
    }
}

impl Default for Lockout {
    fn default() -> Self {
        Self::new(LockoutPolicy::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn locks_grow_after_the_free_failures_and_a_success_clears_them() {
        let lockout = Lockout::default();
        let tenant = TenantId::generate(t0());
        let mut now = t0();
        for _ in 0..5 {
            assert_eq!(lockout.failed(tenant, "Ops@Acme.example", now), None);
        }
        assert_eq!(lockout.failed(tenant, "ops@acme.example ", now), Some(Locked(Duration::seconds(30))));
        assert_eq!(lockout.check(tenant, "OPS@acme.example", now), Err(Locked(Duration::seconds(30))));
        now += Duration::seconds(31);
        assert_eq!(lockout.check(tenant, "ops@acme.example", now), Ok(()));
        assert_eq!(lockout.failed(tenant, "ops@acme.example", now), Some(Locked(Duration::seconds(60))));
        for _ in 0..10 {
            now += Duration::hours(1);
            lockout.failed(tenant, "ops@acme.example", now);
        }
        assert_eq!(lockout.check(tenant, "ops@acme.example", now), Err(Locked(Duration::minutes(15))), "capped");
        // Another tenant's account of the same name is another account.
        assert_eq!(lockout.check(TenantId::generate(now), "ops@acme.example", now), Ok(()));
        lockout.succeeded(tenant, "ops@acme.example");
        assert_eq!(lockout.check(tenant, "ops@acme.example", now), Ok(()));
    }

    #[test]
    fn a_quiet_day_starts_the_count_over() {
        let lockout = Lockout::default();
        let tenant = TenantId::generate(t0());
        for _ in 0..5 {
            lockout.failed(tenant, "a@b.example", t0());
        }
        let later = t0() + Duration::hours(25);
        assert_eq!(lockout.failed(tenant, "a@b.example", later), None);
    }

    #[test]
    fn the_table_is_bounded() {
        let lockout = Lockout::new(LockoutPolicy { max_tracked: 3, free_failures: 0, ..LockoutPolicy::default() });
        let tenant = TenantId::generate(t0());
        for i in 0..10 {
            lockout.failed(tenant, &format!("user{i}@x.example"), t0() + Duration::minutes(i));
        }
        assert!(lockout.entries().len() <= 3);
        let now = t0() + Duration::minutes(9) + Duration::seconds(5);
        assert!(lockout.check(tenant, "user9@x.example", now).is_err(), "the newest lock stands");
    }
}
