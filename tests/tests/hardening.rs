//! Issue 10, item 6: extreme retry settings. Each test failed before its
//! fix.

use std::time::Duration;

use flowflex::{Client, Error, RetryConfig};
use flowflex_emulator::{Endpoint, Fault};
use tests::Harness;

// ----------------------------------------------- item 6: extreme retry settings

/// Multipliers too large for a `Duration` saturate at `max_backoff` instead
/// of panicking at the first retry.
#[tokio::test]
async fn huge_multipliers_retry_without_panicking() {
    let quick = RetryConfig::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(10))
        .jitter_seed(5);
    let policies = [
        quick
            .clone()
            .multiplier(1e300)
            .max_backoff(Duration::from_millis(50)),
        // Only one retry happens below: its wait is the initial one, and
        // the next wait (unbounded) is computed, never waited.
        quick.multiplier(f64::MAX).max_backoff(Duration::MAX),
    ];
    for (policy, failures) in policies.into_iter().zip([3, 1]) {
        let h = Harness::with(|b| b.retry(policy.clone())).await;
        h.emulator
            .inject(Fault::on(Endpoint::Events).status(503).times(failures));
        let sent = h
            .client
            .send_event("e", flowflex::json!({"n": 1}))
            .await
            .unwrap_or_else(|e| panic!("{policy:?}: {e}"));
        let statuses: Vec<_> = h.emulator.requests().iter().map(|r| r.status).collect();
        let mut expected = vec![Some(503); failures as usize];
        expected.push(Some(202));
        assert_eq!(statuses, expected, "{policy:?}");
        assert_eq!(h.emulator.events().len(), 1);
        assert_eq!(
            h.emulator.events()[0].idempotency_key.as_deref(),
            Some(sent.idempotency_key.as_str())
        );
    }
}

#[test]
fn multipliers_that_are_not_numbers_are_refused_at_build() {
    let builder = Client::builder()
        .api_key("cik_xxx")
        .api_secret("yyy")
        .integration_code("ic_abc123");
    for bad in [
        f64::NAN,
        -f64::NAN,
        -1.0,
        -1e-9,
        f64::NEG_INFINITY,
        f64::INFINITY,
    ] {
        let err = builder
            .clone()
            .retry(RetryConfig::default().multiplier(bad))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{bad}: {err:?}");
        let text = err.to_string();
        assert!(text.contains("multiplier"), "{bad}: {text}");
        assert!(text.contains("at least 1"), "says what to do: {text}");
        // Kept by the shorthand that edits the policy in place.
        let err = builder
            .clone()
            .retry(RetryConfig::default().multiplier(bad))
            .max_retries(1)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("multiplier"), "{err}");
    }
    for good in [0.0, 0.5, 1.0, 2.0, 1e300, f64::MAX] {
        builder
            .clone()
            .retry(RetryConfig::default().multiplier(good))
            .build()
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}
