//! Time as a port, so expiry rules can be tested without waiting.

use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The system clock, truncated to milliseconds because both databases and the wire format keep
/// millisecond precision; a value must read back exactly as it was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_millis(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(truncate_to_millis(start)))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The system clock moved forward by a settable amount: time passes as usual, and tests can
/// jump ahead to expire tokens and sessions without waiting.
#[derive(Debug, Default)]
pub struct ShiftedClock(Mutex<Duration>);

impl ShiftedClock {
    pub fn advance(&self, by: Duration) {
        let mut shift = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *shift += by;
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let shift = *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        truncate_to_millis(OffsetDateTime::now_utc() + shift)
    }
}

/// Drops sub-millisecond precision.
pub fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000_000).unwrap_or(t)
}

/// Milliseconds since the Unix epoch, the unit of every timestamp on the wire.
pub fn unix_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Inverse of [`unix_millis`]; `None` for values outside the representable range.
pub fn from_unix_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}
