//! Refresh under contention: many concurrent API calls with an expired token, one refresh.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::report::{Figure, Target, stat};
use crate::signin::{as_user, config_for};
use crate::{Inputs, millis};
use anyhow::{Result, bail};
use latchkey_auth::{ApiClient, Session};
use latchkey_dev_idp::Settings;
use latchkey_test_support::DevStack;

pub(crate) async fn refresh_contention(inputs: &Inputs) -> Result<Vec<Figure>> {
    let ttl = Duration::from_secs(4);
    let stack = DevStack::start_with(Settings {
        access_token_ttl: ttl,
        ..Settings::default()
    })
    .await;
    let session = Session::new(config_for(&stack)?);
    session.login(as_user("jemma"), |_| {}).await?;
    let api = ApiClient::new(session.clone());
    let url = stack.api("/api/messages/protected");
    let (mut refreshes, mut totals, mut failures) = (vec![], vec![], 0usize);
    for _ in 0..inputs.runs {
        // The engine renews at half the lifetime: past that, every caller sees a stale token.
        tokio::time::sleep(ttl / 2 + Duration::from_millis(300)).await;
        let before = stack.idp.counters().refresh_grants.load(Ordering::SeqCst);
        let started = Instant::now();
        let calls: Vec<_> = (0..100)
            .map(|_| {
                let (api, url) = (api.clone(), url.clone());
                tokio::spawn(async move { api.get(&url).await })
            })
            .collect();
        for call in calls {
            match call.await? {
                Ok(response) if response.status == 200 => {}
                _ => failures += 1,
            }
        }
        totals.push(millis(started.elapsed()));
        let after = stack.idp.counters().refresh_grants.load(Ordering::SeqCst);
        refreshes.push((after - before) as f64);
    }
    session.logout().await;
    if failures > 0 {
        bail!("{failures} of the contended API calls failed");
    }
    Ok(vec![
        Figure::new("refresh_requests", "Refresh: requests for 100 concurrent calls", "requests", stat(refreshes))
            .target(Target::AtMost(1.0))
            .strict()
            .method("100 API calls started at once with an access token past its renewal time; refresh grants counted at the dev IdP; every run must show 1"),
        Figure::new("refresh_total_ms", "Refresh: 100 concurrent calls, total", "ms", stat(totals))
            .method("from the first call to the last answer (one refresh, then 100 API requests on loopback)"),
    ])
}
