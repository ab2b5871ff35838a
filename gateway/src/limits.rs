//! Rate limits: token buckets per user (orders per second and per minute, by tier), per tenant
//! (orders per second), per connection (messages per second) and per IP (open connections).
//!
//! A bucket holds up to `capacity` tokens and refills continuously at `capacity` per `period`; a
//! request takes one token or is refused with the time until one is back (`retry_after_ms`).
//! Invariants: a refused request changes no bucket; time comes from the caller (monotonic), so
//! the buckets are testable without clocks. Memory: one bucket pair per user and tenant that has
//! sent an order, one bucket per connection.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

/// A token bucket.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    capacity: u32,
    period_ns: u64,
    /// Tokens, in units of 1/`capacity` of a period's worth of ns (exact integer arithmetic).
    tokens_ns: u64,
    updated_ns: u64,
}

impl Bucket {
    /// A full bucket of `capacity` tokens refilling over `period`.
    pub fn new(capacity: u32, period: Duration, now_ns: u64) -> Bucket {
        assert!(capacity > 0, "a bucket holds at least one token");
        let period_ns = u64::try_from(period.as_nanos()).expect("a period under 584 years");
        Bucket { capacity, period_ns, tokens_ns: period_ns, updated_ns: now_ns }
    }

    /// The cost of one token, in the bucket's units.
    fn token_ns(&self) -> u64 {
        self.period_ns / u64::from(self.capacity)
    }

    fn refill(&mut self, now_ns: u64) {
        let elapsed = now_ns.saturating_sub(self.updated_ns);
        self.tokens_ns = self.tokens_ns.saturating_add(elapsed).min(self.period_ns);
        self.updated_ns = now_ns.max(self.updated_ns);
    }

    /// Takes a token, or says how long until one is back.
    pub fn take(&mut self, now_ns: u64) -> Result<(), Duration> {
        self.refill(now_ns);
        let token = self.token_ns();
        if self.tokens_ns >= token {
            self.tokens_ns -= token;
            Ok(())
        } else {
            Err(Duration::from_nanos(token - self.tokens_ns))
        }
    }

    /// Tokens taken and not yet refilled (for `rateLimits.count`).
    pub fn used(&self) -> u32 {
        let token = self.token_ns().max(1);
        u32::try_from((self.period_ns - self.tokens_ns) / token).unwrap_or(self.capacity)
    }

    /// The bucket's size.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}

/// `[limits]` in the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Order tiers by name; users name theirs (`default` when they do not).
    #[serde(default = "default_tiers")]
    pub tiers: HashMap<String, Tier>,
    /// Orders per second of all users of a tenant together.
    #[serde(default = "defaults::tenant_orders_per_second")]
    pub tenant_orders_per_second: u32,
    /// Messages per second on one connection.
    #[serde(default = "defaults::connection_messages_per_second")]
    pub connection_messages_per_second: u32,
    /// Open connections from one IP address.
    #[serde(default = "defaults::ip_connections_max")]
    pub ip_connections_max: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            tiers: default_tiers(),
            tenant_orders_per_second: defaults::tenant_orders_per_second(),
            connection_messages_per_second: defaults::connection_messages_per_second(),
            ip_connections_max: defaults::ip_connections_max(),
        }
    }
}

/// An order rate tier.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Orders (placements and cancels) per second.
    pub orders_per_second: u32,
    /// Orders per minute (the old platform's retail tier: 20).
    pub orders_per_minute: u32,
}

fn default_tiers() -> HashMap<String, Tier> {
    HashMap::from([("default".to_string(), Tier { orders_per_second: 100, orders_per_minute: 6_000 })])
}

mod defaults {
    pub fn tenant_orders_per_second() -> u32 {
        10_000
    }
    pub fn connection_messages_per_second() -> u32 {
        500
    }
    pub fn ip_connections_max() -> u32 {
        1_000
    }
}

/// Which limit refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The user's orders per second or per minute, or the tenant's orders per second.
    Orders(Duration),
    /// The connection's messages per second.
    Messages(Duration),
}

/// The order buckets of users and tenants.
#[derive(Debug, Default)]
pub struct OrderLimits {
    users: HashMap<u32, (Bucket, Bucket)>,
    tenants: HashMap<u32, Bucket>,
}

impl OrderLimits {
    /// One order of `user` (in `tenant`, with `tier`): taken from all three buckets, or refused
    /// with the longest wait.
    pub fn take(
        &mut self,
        config: &LimitsConfig,
        (user, tenant, tier): (u32, u32, &Tier),
        now_ns: u64,
    ) -> Result<(), Refused> {
        let (second, minute) = self.users.entry(user).or_insert_with(|| {
            (
                Bucket::new(tier.orders_per_second, Duration::from_secs(1), now_ns),
                Bucket::new(tier.orders_per_minute, Duration::from_mins(1), now_ns),
            )
        });
        let tenant_bucket = self
            .tenants
            .entry(tenant)
            .or_insert_with(|| Bucket::new(config.tenant_orders_per_second, Duration::from_secs(1), now_ns));
        // Check all three before taking any: a refusal changes nothing.
        let mut probe = (*second, *minute, *tenant_bucket);
        let waits = [probe.0.take(now_ns), probe.1.take(now_ns), probe.2.take(now_ns)];
        if let Some(wait) = waits.iter().filter_map(|w| w.err()).max() {
            return Err(Refused::Orders(wait));
        }
        (*second, *minute, *tenant_bucket) = probe;
        Ok(())
    }

    /// The user's (second, minute) buckets, for `rateLimits`.
    pub fn user(&self, user: u32) -> Option<(Bucket, Bucket)> {
        self.users.get(&user).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_bucket_refuses_past_its_capacity_and_refills_with_time() {
        let mut bucket = Bucket::new(20, Duration::from_mins(1), 0);
        for _ in 0..20 {
            bucket.take(0).expect("within the burst");
        }
        assert_eq!(bucket.used(), 20);
        let wait = bucket.take(0).expect_err("the 21st in the same instant");
        assert_eq!(wait, Duration::from_secs(3), "one token every 3 s at 20 per minute");
        assert!(bucket.take(2 * SECOND).is_err());
        bucket.take(3 * SECOND).expect("refilled");
    }

    #[test]
    fn an_order_refused_by_one_bucket_takes_from_none() {
        let config = LimitsConfig { tenant_orders_per_second: 2, ..LimitsConfig::default() };
        let tier = Tier { orders_per_second: 10, orders_per_minute: 100 };
        let mut limits = OrderLimits::default();
        limits.take(&config, (1, 0, &tier), 0).expect("first");
        limits.take(&config, (2, 0, &tier), 0).expect("second of the tenant");
        assert!(
            matches!(limits.take(&config, (1, 0, &tier), 0), Err(Refused::Orders(_))),
            "the tenant's third"
        );
        assert_eq!(
            limits.user(1).map(|(s, m)| (s.used(), m.used())),
            Some((1, 1)),
            "the refusal took nothing"
        );
        limits.take(&config, (3, 1, &tier), 0).expect("another tenant is not affected");
    }
}
