//! The retry policy: plain data with a documented default. The loop that
//! applies it lives in the client, in one place.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// How failed requests are retried.
///
/// Retried: HTTP 408, 429 and 5xx (but 501 and 505), timeouts, refused and
/// reset connections. Every request is safe to repeat: the event POST keeps
/// its idempotency key across attempts, a storage PUT overwrites, and a file
/// body is re-read from its source for each attempt. A one-shot reader
/// (`Attachment::from_reader(..).with_size(..)`) is never retried.
///
/// The wait before retry *n* (from 1) is
/// `min(initial_backoff * multiplier^(n-1), max_backoff)`, with jitter
/// drawing it uniformly from its upper half; a `Retry-After` header (seconds
/// or an HTTP date) replaces it when longer, capped at `max_retry_after`.
///
/// With the default (3 retries, 30 s timeout) one request takes at most
/// `4 × 30 s + 0.2 + 0.4 + 0.8 s` of backoff, longer only by what
/// `Retry-After` asks, up to 3 × 30 s.
///
/// ```
/// use std::time::Duration;
/// use flowflex::RetryConfig;
///
/// let retry = RetryConfig::default()
///     .max_retries(5)
///     .initial_backoff(Duration::from_millis(100))
///     .max_backoff(Duration::from_secs(5));
/// assert_eq!(retry.get_max_retries(), 5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    max_retry_after: Duration,
    jitter: bool,
    seed: Option<u64>,
}

impl Default for RetryConfig {
    /// 3 retries, 200 ms initial backoff doubling up to 10 s, with jitter,
    /// `Retry-After` honoured up to 30 s.
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            max_retry_after: Duration::from_secs(30),
            jitter: true,
            seed: None,
        }
    }
}

impl RetryConfig {
    /// No retries: every request is sent once.
    ///
    /// ```
    /// use flowflex::RetryConfig;
    ///
    /// assert_eq!(RetryConfig::disabled().get_max_retries(), 0);
    /// assert_eq!(RetryConfig::disabled(), RetryConfig::default().max_retries(0));
    /// ```
    #[must_use]
    pub fn disabled() -> Self {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }

    /// How many times a failed request is sent again (0 disables retries).
    ///
    /// ```
    /// use flowflex::RetryConfig;
    ///
    /// let retry = RetryConfig::default().max_retries(5);
    /// assert_eq!(retry.get_max_retries(), 5);
    /// ```
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The wait before the first retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::RetryConfig;
    ///
    /// let default = RetryConfig::default();
    /// assert_eq!(default.clone().initial_backoff(Duration::from_millis(200)), default);
    /// let slower = RetryConfig::default().initial_backoff(Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The longest wait between attempts (before `Retry-After`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::RetryConfig;
    ///
    /// let default = RetryConfig::default();
    /// assert_eq!(default.clone().max_backoff(Duration::from_secs(10)), default);
    /// let capped = RetryConfig::default().max_backoff(Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The factor the wait grows by after each attempt (at least 1). Waits
    /// that grow past what a `Duration` holds stay at `max_backoff`.
    ///
    /// NaN, infinite and negative factors are mistakes, not policies:
    /// [`ClientBuilder::build`](crate::ClientBuilder::build) refuses them
    /// with an [`Error::Config`](crate::Error::Config).
    ///
    /// ```
    /// use flowflex::RetryConfig;
    ///
    /// let default = RetryConfig::default();
    /// assert_eq!(default.clone().multiplier(2.0), default);
    /// // Below 1 is raised to 1: a constant wait.
    /// assert_eq!(default.clone().multiplier(0.5), default.multiplier(1.0));
    ///
    /// let builder = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123");
    /// let err = builder.retry(RetryConfig::default().multiplier(f64::NAN)).build().unwrap_err();
    /// assert!(err.to_string().contains("multiplier"));
    /// ```
    #[must_use]
    pub fn multiplier(mut self, m: f64) -> Self {
        // Kept as given when it is no number of at least 0, for `problem`.
        self.multiplier = if m.is_finite() && m >= 0.0 {
            m.max(1.0)
        } else {
            m
        };
        self
    }

    /// The longest `Retry-After` the client will wait; longer requests are
    /// cut to this.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::RetryConfig;
    ///
    /// let default = RetryConfig::default();
    /// assert_eq!(default.clone().max_retry_after(Duration::from_secs(30)), default);
    /// let impatient = RetryConfig::default().max_retry_after(Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Whether waits are randomised (on by default, so that many clients do
    /// not retry in step).
    ///
    /// ```
    /// use flowflex::RetryConfig;
    ///
    /// assert_eq!(RetryConfig::default().jitter(true), RetryConfig::default());
    /// let exact = RetryConfig::default().jitter(false);
    /// assert_ne!(exact, RetryConfig::default());
    /// ```
    #[must_use]
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// Seeds the jitter's random generator, for reproducible waits in tests.
    ///
    /// ```
    /// use flowflex::RetryConfig;
    ///
    /// // The same waits on every run of a test.
    /// let retry = RetryConfig::default().jitter_seed(42);
    /// assert_eq!(retry, RetryConfig::default().jitter_seed(42));
    /// ```
    #[must_use]
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The configured number of retries.
    ///
    /// ```
    /// use flowflex::RetryConfig;
    ///
    /// assert_eq!(RetryConfig::default().get_max_retries(), 3);
    /// ```
    #[must_use]
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// What makes this policy unusable, said for the user: checked once, by
    /// the client builder.
    pub(crate) fn problem(&self) -> Option<String> {
        let m = self.multiplier;
        (!m.is_finite() || m < 0.0).then(|| {
            format!(
                "the retry multiplier is {m}: set RetryConfig::multiplier to a finite number of at least 1 (2.0, the default, doubles each wait; 1.0 keeps it constant)"
            )
        })
    }
}

/// The waits of one request's retries.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: RetryConfig,
    next: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub(crate) fn new(config: &RetryConfig) -> Self {
        Backoff {
            config: config.clone(),
            next: config.initial_backoff,
            rng: config
                .seed
                .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
        }
    }

    /// The wait before the next attempt.
    pub(crate) fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        let base = self.next.min(self.config.max_backoff);
        self.next = scale(base, self.config.multiplier).min(self.config.max_backoff);
        let wait = if self.config.jitter && !base.is_zero() {
            let half = base / 2;
            half.saturating_add(scale(half, self.rng.f64()))
        } else {
            base
        };
        match retry_after {
            Some(asked) => asked.min(self.config.max_retry_after).max(wait),
            None => wait,
        }
    }
}

/// `d × factor`, saturating at `Duration::MAX` where `Duration::mul_f64`
/// panics; zero for a factor that is no positive number.
fn scale(d: Duration, factor: f64) -> Duration {
    let secs = d.as_secs_f64() * factor;
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

/// Whether a response status is worth another attempt.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || ((500..600).contains(&status) && !matches!(status, 501 | 505))
}

/// `Retry-After` as seconds or an HTTP date, relative to `now`.
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_the_upper_half() {
        let config = RetryConfig::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(350))
            .jitter_seed(7);
        let mut b = Backoff::new(&config);
        let waits: Vec<_> = (0..5).map(|_| b.next(None)).collect();
        let bases = [100, 200, 350, 350, 350];
        for (w, base) in waits.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(*w >= base / 2 && *w <= base, "{w:?} vs {base:?}");
        }
        let mut again = Backoff::new(&config);
        let replay: Vec<_> = (0..5).map(|_| again.next(None)).collect();
        assert_eq!(waits, replay, "a seed makes jitter reproducible");
    }

    /// Jitter is applied: a seeded run of constant 1 s bases draws waits
    /// spread over the upper half, not the base every time.
    #[test]
    fn jitter_spreads_waits_over_the_upper_half_of_the_base() {
        let second = Duration::from_secs(1);
        let config = RetryConfig::default()
            .initial_backoff(second)
            .max_backoff(second)
            .multiplier(1.0)
            .jitter_seed(7);
        let mut b = Backoff::new(&config);
        let waits: Vec<_> = (0..32).map(|_| b.next(None)).collect();
        for w in &waits {
            assert!((second / 2..=second).contains(w), "{w:?}");
        }
        let shortest = waits.iter().min().copied().unwrap_or_default();
        let longest = waits.iter().max().copied().unwrap_or_default();
        assert!(shortest < Duration::from_millis(600), "{waits:?}");
        assert!(longest > Duration::from_millis(900), "{waits:?}");
        let other: Vec<_> = {
            let mut b = Backoff::new(&config.clone().jitter_seed(8));
            (0..32).map(|_| b.next(None)).collect()
        };
        assert_ne!(waits, other, "another seed, other waits");
    }

    #[test]
    fn each_setter_sets_and_disabled_means_no_retries() {
        assert_eq!(RetryConfig::default().get_max_retries(), 3);
        assert_eq!(RetryConfig::default().max_retries(5).get_max_retries(), 5);
        assert_eq!(RetryConfig::disabled().get_max_retries(), 0);
        assert_eq!(
            RetryConfig::disabled(),
            RetryConfig::default().max_retries(0)
        );
        // Below 1 is raised to 1 (a constant wait).
        assert_eq!(
            RetryConfig::default().multiplier(0.5),
            RetryConfig::default().multiplier(1.0)
        );
        assert_ne!(
            RetryConfig::default().multiplier(0.5),
            RetryConfig::default()
        );
    }

    /// `scale` is zero for a factor that is no positive number, and
    /// saturates instead of panicking.
    #[test]
    fn scale_is_zero_for_no_positive_factor_and_saturates() {
        let second = Duration::from_secs(1);
        for factor in [f64::NAN, -1.0, 0.0, -0.0, f64::NEG_INFINITY] {
            assert_eq!(scale(second, factor), Duration::ZERO, "{factor}");
        }
        assert_eq!(scale(Duration::ZERO, f64::INFINITY), Duration::ZERO);
        assert_eq!(scale(second, 2.5), Duration::from_millis(2500));
        assert_eq!(scale(second, f64::INFINITY), Duration::MAX);
        assert_eq!(scale(Duration::MAX, 2.0), Duration::MAX);
    }

    /// Waits, without jitter, for extreme settings: they saturate at
    /// `max_backoff` (or `Duration::MAX`) instead of panicking.
    #[test]
    fn backoff_arithmetic_saturates() {
        const MAX: Duration = Duration::MAX;
        let ms = Duration::from_millis;
        let table: [(Duration, Duration, f64, [Duration; 4]); 9] = [
            (ms(100), ms(350), 2.0, [ms(100), ms(200), ms(350), ms(350)]),
            (ms(10), ms(50), 1e300, [ms(10), ms(50), ms(50), ms(50)]),
            (ms(10), MAX, 1e300, [ms(10), MAX, MAX, MAX]),
            (ms(10), MAX, f64::MAX, [ms(10), MAX, MAX, MAX]),
            (
                Duration::from_secs(1),
                MAX,
                1e10,
                [
                    Duration::from_secs(1),
                    Duration::from_secs(10_000_000_000),
                    MAX,
                    MAX,
                ],
            ),
            (MAX, MAX, 2.0, [MAX; 4]),
            (MAX, MAX, 1.0, [MAX; 4]),
            (Duration::ZERO, MAX, f64::MAX, [Duration::ZERO; 4]),
            (ms(7), ms(7), 1.0, [ms(7); 4]),
        ];
        for (initial, max, multiplier, expected) in table {
            let config = RetryConfig::default()
                .jitter(false)
                .initial_backoff(initial)
                .max_backoff(max)
                .multiplier(multiplier);
            assert_eq!(config.problem(), None, "{config:?}");
            let mut b = Backoff::new(&config);
            let waits = [b.next(None), b.next(None), b.next(None), b.next(None)];
            assert_eq!(waits, expected, "{config:?}");
            // Jittered, each wait stays in the upper half of its base.
            let mut b = Backoff::new(&config.clone().jitter(true).jitter_seed(9));
            for base in expected {
                let w = b.next(None);
                assert!(w >= base / 2 && w <= base, "{w:?} vs {base:?}");
            }
            // A Retry-After of any length is capped, never overflows.
            let mut b = Backoff::new(&config.clone().max_retry_after(MAX));
            assert_eq!(b.next(Some(MAX)), MAX);
        }
    }

    #[test]
    fn multipliers_that_are_no_numbers_are_a_problem() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, -1e-300] {
            let problem = RetryConfig::default().multiplier(bad).problem();
            let problem = problem.unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(problem.contains("RetryConfig::multiplier"), "{problem}");
        }
        for fine in [0.0, -0.0, 0.5, 1.0, 1e300, f64::MAX] {
            assert_eq!(RetryConfig::default().multiplier(fine).problem(), None);
        }
        assert_eq!(RetryConfig::default().problem(), None);
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let config = RetryConfig::default()
            .jitter(false)
            .initial_backoff(Duration::from_millis(100))
            .max_retry_after(Duration::from_secs(5));
        let mut b = Backoff::new(&config);
        assert_eq!(b.next(Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(
            b.next(Some(Duration::from_secs(60))),
            Duration::from_secs(5)
        );
        assert_eq!(b.next(Some(Duration::ZERO)), Duration::from_millis(400));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        h.insert("retry-after", later.parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(42)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(42));
        h.insert("retry-after", past.parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 413, 422, 501, 505] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }
}
