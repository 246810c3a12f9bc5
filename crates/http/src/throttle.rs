//! Throttling, in the style of OWASP ASVS V11/V2 and NIST SP 800-63B §5.2.2: every caller gets
//! a token bucket (the `governor` crate's GCRA) sized to honest use, and a caller that empties it
//! hears `429` with `Retry-After` instead of being served.
//!
//! | bucket | key | applies to |
//! |---|---|---|
//! | `api_key` | API key | every request that presents `x-api-key` |
//! | `session_token` | tenant | token-only partner calls (`/0/omni/...`), except status polling |
//! | `flow_ip` | client IP | the hosted page, its assets and its capture API |
//! | `static_flow_ip` | client IP | sessions started from a static flow URL |
//! | `uploads_per_session` | session | capture uploads and challenge answers |
//! | `login_ip` | client IP | executive log-in (accounts also lock: `veriframe_core::lockout`) |
//! | `failed_auth_ip` | client IP | unknown API keys, tokens and links; an IP that empties it is refused everything for `failed_auth_penalty_seconds` |
//!
//! Status polling is deliberately exempt from the per-tenant bucket: it is the hot path (one
//! indexed read) and integrators poll every open session every second.
//!
//! Client IPs are the TCP peer, or — when the peer is a configured trusted proxy — the address
//! its `X-Forwarded-For` names. IPv6 clients are bucketed by their /64, which one subscriber
//! usually holds whole. Counts live in this process's memory.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use veriframe_core::ids::{ApiKeyId, InterviewId, TenantId};

/// A sustained rate and the burst allowed on top of it. `per_minute = 0` disables the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst }
    }

    fn quota(self) -> Option<Quota> {
        let per_minute = NonZeroU32::new(self.per_minute)?;
        let period = Duration::from_secs(60) / per_minute.get();
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Some(Quota::with_period(period)?.allow_burst(burst))
    }
}

/// A tenant's own limits, replacing the defaults for its keys and tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantLimits {
    pub api_key: Option<Rate>,
    pub session_token: Option<Rate>,
}

/// Every throttle's size. The defaults carry an honest integrator, a person on a phone behind a
/// carrier's shared address, and an office NAT starting a few dozen onboardings at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub api_key: Rate,
    pub session_token: Rate,
    pub flow_ip: Rate,
    pub static_flow_ip: Rate,
    pub uploads_per_session: Rate,
    pub login_ip: Rate,
    pub failed_auth_ip: Rate,
    pub failed_auth_penalty_seconds: u32,
    /// By `clientId`; read at start-up.
    pub tenants: BTreeMap<String, TenantLimits>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            api_key: Rate::new(6_000, 600),
            session_token: Rate::new(6_000, 600),
            flow_ip: Rate::new(1_200, 300),
            static_flow_ip: Rate::new(30, 30),
            uploads_per_session: Rate::new(20, 20),
            login_ip: Rate::new(30, 10),
            failed_auth_ip: Rate::new(30, 60),
            failed_auth_penalty_seconds: 300,
            tenants: BTreeMap::new(),
        }
    }
}

/// A refused request: which bucket, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub reason: &'static str,
    pub retry_after: Duration,
}

/// One keyed bucket family, or none when disabled.
struct Bucket<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    reason: &'static str,
}

impl<K: Hash + Eq + Clone> Bucket<K> {
    fn new(rate: Rate, reason: &'static str) -> Self {
        Self { limiter: rate.quota().map(RateLimiter::keyed), reason }
    }

    fn check(&self, key: &K) -> Result<(), Limited> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| Limited {
            reason: self.reason,
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// All buckets of one server.
pub struct Throttle {
    api_key: Bucket<ApiKeyId>,
    api_key_by_tenant: HashMap<TenantId, Bucket<ApiKeyId>>,
    session_token: Bucket<TenantId>,
    session_token_by_tenant: HashMap<TenantId, Bucket<TenantId>>,
    flow_ip: Bucket<IpAddr>,
    static_flow_ip: Bucket<IpAddr>,
    uploads: Bucket<InterviewId>,
    login_ip: Bucket<IpAddr>,
    failed_auth: Bucket<IpAddr>,
    penalty: Duration,
    /// IPs refused everything until the instant, after emptying `failed_auth_ip`.
    penalized: Mutex<HashMap<IpAddr, Instant>>,
    /// `penalized.len()`, read without the lock on every request.
    penalized_count: AtomicUsize,
    /// Seconds since `started` of the last sweep of idle keys.
    last_sweep: AtomicU64,
    started: Instant,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("penalized", &self.penalized_count.load(Ordering::Relaxed)).finish()
    }
}

/// How often idle keys are dropped from the buckets (their state is a timestamp each).
const SWEEP_EVERY_SECONDS: u64 = 60;

impl Throttle {
    /// `tenants` resolves the `clientId`s of per-tenant limits to tenant ids.
    pub fn new(limits: &Limits, tenants: &HashMap<String, TenantId>) -> Self {
        let mut api_key_by_tenant = HashMap::new();
        let mut session_token_by_tenant = HashMap::new();
        for (client_id, own) in &limits.tenants {
            let Some(&tenant) = tenants.get(client_id) else {
                tracing::warn!(client_id, "limits name a tenant that does not exist; ignored");
                continue;
            };
            if let Some(rate) = own.api_key {
                api_key_by_tenant.insert(tenant, Bucket::new(rate, "too many requests for this API key"));
            }
            if let Some(rate) = own.session_token {
                session_token_by_tenant.insert(tenant, Bucket::new(rate, "too many requests for this tenant"));
            }
        }
        Self {
            api_key: Bucket::new(limits.api_key, "too many requests for this API key"),
            api_key_by_tenant,
            session_token: Bucket::new(limits.session_token, "too many requests for this tenant"),
            session_token_by_tenant,
            flow_ip: Bucket::new(limits.flow_ip, "too many requests from this address"),
            static_flow_ip: Bucket::new(limits.static_flow_ip, "too many sessions started from this address"),
            uploads: Bucket::new(limits.uploads_per_session, "too many uploads for this session"),
            login_ip: Bucket::new(limits.login_ip, "too many log-in attempts from this address"),
            failed_auth: Bucket::new(limits.failed_auth_ip, "too many invalid credentials from this address"),
            penalty: Duration::from_secs(u64::from(limits.failed_auth_penalty_seconds)),
            penalized: Mutex::new(HashMap::new()),
            penalized_count: AtomicUsize::new(0),
            last_sweep: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// No limits at all (tools that drive the server as fast as they can).
    pub fn unlimited() -> Self {
        let off = Rate::new(0, 0);
        let limits = Limits {
            api_key: off,
            session_token: off,
            flow_ip: off,
            static_flow_ip: off,
            uploads_per_session: off,
            login_ip: off,
            failed_auth_ip: off,
            ..Limits::default()
        };
        Self::new(&limits, &HashMap::new())
    }

    pub fn api_key(&self, tenant: TenantId, key: ApiKeyId) -> Result<(), Limited> {
        self.maybe_sweep();
        self.api_key_by_tenant.get(&tenant).unwrap_or(&self.api_key).check(&key)
    }

    pub fn session_token(&self, tenant: TenantId) -> Result<(), Limited> {
        self.session_token_by_tenant.get(&tenant).unwrap_or(&self.session_token).check(&tenant)
    }

    pub fn flow_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        self.maybe_sweep();
        self.flow_ip.check(&bucket_ip(ip))
    }

    pub fn static_flow_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        self.static_flow_ip.check(&bucket_ip(ip))
    }

    pub fn upload(&self, session: InterviewId) -> Result<(), Limited> {
        self.uploads.check(&session)
    }

    pub fn login_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        self.login_ip.check(&bucket_ip(ip))
    }

    /// Whether this client is serving a penalty for guessing credentials. Free when nobody is.
    pub fn penalized(&self, ip: IpAddr) -> Result<(), Limited> {
        if self.penalized_count.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let ip = bucket_ip(ip);
        let mut penalized = self.penalized.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let result = match penalized.get(&ip) {
            Some(&until) if until > now => {
                Err(Limited { reason: "too many invalid credentials from this address", retry_after: until - now })
            }
            Some(_) => {
                penalized.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        };
        self.penalized_count.store(penalized.len(), Ordering::Relaxed);
        result
    }

    /// Counts an unknown credential presented by this client; the one that empties its bucket
    /// starts a penalty.
    pub fn failed_credential(&self, ip: IpAddr) {
        let ip = bucket_ip(ip);
        if self.failed_auth.check(&ip).is_ok() || self.penalty.is_zero() {
            return;
        }
        tracing::warn!(
            penalty_s = self.penalty.as_secs(),
            "a client keeps presenting unknown credentials; refusing it"
        );
        let mut penalized = self.penalized.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        penalized.retain(|_, until| *until > now);
        penalized.insert(ip, now + self.penalty);
        self.penalized_count.store(penalized.len(), Ordering::Relaxed);
    }

    /// Drops the state of keys that have been idle long enough to have a full bucket again.
    fn maybe_sweep(&self) {
        let now = self.started.elapsed().as_secs();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now < last + SWEEP_EVERY_SECONDS
            || self.last_sweep.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        self.api_key.forget_idle();
        self.api_key_by_tenant.values().for_each(Bucket::forget_idle);
        self.session_token.forget_idle();
        self.session_token_by_tenant.values().for_each(Bucket::forget_idle);
        self.flow_ip.forget_idle();
        self.static_flow_ip.forget_idle();
        self.uploads.forget_idle();
        self.login_ip.forget_idle();
        self.failed_auth.forget_idle();
    }
}

/// The address a bucket is kept for: IPv4 as is (and IPv4-mapped IPv6 as IPv4), IPv6 by /64.
pub fn bucket_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    /// Addresses (`10.0.0.2`) or networks (`10.0.0.0/8`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{e:?} is not an IP address or CIDR network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy, in which case the
    /// nearest address in `X-Forwarded-For` (read right to left) that is not a trusted proxy.
    /// A malformed entry ends the walk: nothing to its left can be believed.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let xff = ["203.0.113.7, 10.1.1.1"];
        assert_eq!(proxies.client(ip("198.51.100.1"), xff.into_iter()), ip("198.51.100.1"), "untrusted peer");
        assert_eq!(proxies.client(ip("10.0.0.2"), xff.into_iter()), ip("203.0.113.7"));
        // A client cannot pick its address by prepending entries: the walk stops at the first
        // untrusted hop from the right.
        let spoofed = ["1.2.3.4", "203.0.113.7"];
        assert_eq!(proxies.client(ip("10.0.0.2"), spoofed.into_iter()), ip("203.0.113.7"));
        assert_eq!(proxies.client(ip("10.0.0.2"), ["garbage, 203.0.113.9:4711"].into_iter()), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("10.0.0.2"), std::iter::empty()), ip("10.0.0.2"));
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(bucket_ip(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(bucket_ip(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn buckets_refuse_beyond_the_burst_and_say_when_to_return() {
        let limits = Limits { static_flow_ip: Rate::new(60, 3), ..Limits::default() };
        let throttle = Throttle::new(&limits, &HashMap::new());
        for _ in 0..3 {
            throttle.static_flow_ip(ip("192.0.2.1")).unwrap();
        }
        let refused = throttle.static_flow_ip(ip("192.0.2.1")).unwrap_err();
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(1));
        throttle.static_flow_ip(ip("192.0.2.2")).unwrap();
        let off = Throttle::unlimited();
        for _ in 0..1000 {
            off.static_flow_ip(ip("192.0.2.1")).unwrap();
        }
    }

    #[test]
    fn guessing_credentials_earns_a_penalty() {
        let limits = Limits { failed_auth_ip: Rate::new(1, 2), failed_auth_penalty_seconds: 60, ..Limits::default() };
        let throttle = Throttle::new(&limits, &HashMap::new());
        let guesser = ip("192.0.2.66");
        throttle.failed_credential(guesser);
        throttle.failed_credential(guesser);
        assert!(throttle.penalized(guesser).is_ok(), "two mistakes are free");
        throttle.failed_credential(guesser);
        let refused = throttle.penalized(guesser).unwrap_err();
        assert!(refused.retry_after > Duration::from_secs(50));
        assert!(throttle.penalized(ip("192.0.2.67")).is_ok(), "others are not affected");
    }
}
