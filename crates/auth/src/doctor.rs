//! `doctor`: what would stop a sign-in on this machine, one line a check, and what to do.
//!
//! Checks the configuration, the provider's discovery document (and what it offers), the
//! clock against the provider's, the credential vault with a probe entry that is not the
//! session's, the loopback listener, and whether a session is stored (for whom, never a
//! token). Nothing it prints is secret.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::config::{CONFIG_ENV, Config};
use crate::idtoken::CLOCK_SKEW;
use crate::provider::{Endpoint, Provider, error_chain};
use crate::store::SessionStore;
use crate::vault::Vault;
use latchkey_http::ProviderHttp;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It works.
    Ok,
    /// Works, but something is missing or unusual.
    Warn,
    /// Would stop a sign-in.
    Fail,
}

/// One line of the report.
#[derive(Clone, Debug)]
pub struct Check {
    /// Whether the check passed, warns or would stop a sign-in.
    pub verdict: Verdict,
    /// What was checked and what was found.
    pub what: String,
    /// What to do about it, for a warning or a failure.
    pub advice: Option<String>,
}

impl Check {
    fn ok(what: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Ok,
            what: what.into(),
            advice: None,
        }
    }
    fn warn(what: impl Into<String>, advice: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Warn,
            what: what.into(),
            advice: Some(advice.into()),
        }
    }
    fn fail(what: impl Into<String>, advice: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Fail,
            what: what.into(),
            advice: Some(advice.into()),
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        write!(f, "{tag} {}", self.what)?;
        if let Some(advice) = &self.advice {
            write!(f, "\n     → {advice}")?;
        }
        Ok(())
    }
}

/// Where the configuration came from, in words.
pub fn config_origin(flag: Option<&std::path::Path>) -> String {
    match flag {
        Some(path) => format!("{} (from --config)", path.display()),
        None if std::env::var_os(CONFIG_ENV).is_some_and(|v| !v.is_empty()) => {
            format!("{} (from {CONFIG_ENV})", Config::path().display())
        }
        None => format!("{} (the OS config directory)", Config::path().display()),
    }
}

/// Runs every check for `config` (already read from `origin`).
pub async fn diagnose(config: &Config, origin: &str) -> Vec<Check> {
    let mut checks = vec![Check::ok(format!("configuration {origin} reads fine"))];
    checks.extend(provider_checks(config).await);
    checks.push(vault_check().await);
    checks.extend(loopback_checks(config));
    checks.push(session_check(config).await);
    checks
}

async fn provider_checks(config: &Config) -> Vec<Check> {
    let http = ProviderHttp::default();
    let url = format!(
        "{}/.well-known/openid-configuration",
        config.issuer.trim_end_matches('/')
    );
    let started = Instant::now();
    let answer = match http.client().get(&url).send().await {
        Ok(answer) => answer,
        Err(err) => {
            return vec![Check::fail(
                format!(
                    "cannot reach the provider's discovery document {url}: {}",
                    error_chain(&err)
                ),
                "check the network and the \"issuer\" in the configuration",
            )];
        }
    };
    let took = started.elapsed();
    let mut checks = Vec::new();
    checks.push(clock_check(answer.headers().get("date")));
    let provider = match Provider::discover(config, &http).await {
        Ok(provider) => provider,
        Err(err) => {
            checks.insert(
                0,
                Check::fail(
                    format!("the provider's discovery document: {err}"),
                    "fix the \"issuer\" (it must equal the document's issuer exactly) or the provider",
                ),
            );
            return checks;
        }
    };
    checks.insert(
        0,
        Check::ok(format!(
            "discovery {url} answered in {} ms; issuer matches; PKCE S256 supported",
            took.as_millis()
        )),
    );
    checks.extend(scopes_check(config, &provider));
    let extra = provider.extra();
    let grants = provider.metadata.grant_types_supported();
    let refresh =
        grants.is_none_or(|g| g.contains(&openidconnect::core::CoreGrantType::RefreshToken));
    let mut offers = |present: bool, name: &str, advice: &str| {
        checks.push(if present {
            Check::ok(format!("the provider offers {name}"))
        } else {
            Check::warn(format!("the provider does not list {name}"), advice)
        });
    };
    offers(
        refresh,
        "refresh tokens",
        "without them every start needs a browser sign-in; enable the refresh token grant",
    );

    offers(
        extra.end_session_endpoint.is_some()
            || crate::quirks::Flavor::of(config, Some(&provider))
                .fallback_logout(config.issuer.url())
                .is_some(),
        "an end-session endpoint",
        "\"Sign out there too\" is not available",
    );
    offers(
        extra.authorization_response_iss_parameter_supported,
        "the iss response parameter (RFC 9207)",
        "mix-up protection rests on the other checks alone",
    );
    let mut endpoint = |found: Option<&Endpoint>, name: &str, field: &str, advice: &str| {
        checks.push(match found {
            Some(e) => Check::ok(format!("{name}: {} ({})", e.url, e.source)),
            None => Check::warn(
                format!("the provider advertises no {name} (in openid-configuration or RFC 8414 metadata)"),
                format!("{advice}; if it has one, give it as \"{field}\" in the configuration"),
            ),
        });
    };
    endpoint(
        provider.revocation_endpoint(),
        "token revocation endpoint (RFC 7009)",
        "revocationEndpoint",
        "log out then only forgets the session here; the provider keeps it until it expires",
    );
    endpoint(
        provider.device_authorization_endpoint(),
        "device authorization endpoint (RFC 8628)",
        "deviceAuthorizationEndpoint",
        "signing in over SSH needs a browser that reaches this machine's loopback",
    );
    checks
}

/// The configured scopes the provider's discovery document does not list (when it lists
/// any): a sign-in asking for them may end in `invalid_scope`.
fn scopes_check(config: &Config, provider: &Provider) -> Option<Check> {
    let supported = provider.metadata.scopes_supported()?;
    let missing: Vec<&str> = config
        .scopes
        .iter()
        .filter(|wanted| !supported.iter().any(|s| s.as_str() == wanted.as_str()))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Some(Check::ok("the provider lists every configured scope"));
    }
    let refresh = if missing.contains(&"offline_access") {
        " (without offline_access there is no refresh token: every start needs a browser sign-in)"
    } else {
        ""
    };
    Some(Check::warn(
        format!(
            "the provider does not list the scope(s) {} in scopes_supported; the sign-in may end in invalid_scope",
            missing.join(", ")
        ),
        format!(
            "enable them at the provider, or give \"scopes\" without them in the configuration{refresh}"
        ),
    ))
}

fn clock_check(date: Option<&reqwest::header::HeaderValue>) -> Check {
    let Some(theirs) = date
        .and_then(|d| d.to_str().ok())
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
    else {
        return Check::warn(
            "the provider sent no Date header to compare the clock with",
            "make sure this machine's clock is set automatically",
        );
    };
    let skew = (chrono::Utc::now() - theirs.with_timezone(&chrono::Utc))
        .num_seconds()
        .unsigned_abs();
    let skew = Duration::from_secs(skew);
    if skew > CLOCK_SKEW {
        Check::fail(
            format!("this clock is {} s off the provider's", skew.as_secs()),
            "ID tokens would look expired or not yet valid: set the clock (NTP)",
        )
    } else if skew > Duration::from_secs(10) {
        Check::warn(
            format!("this clock is {} s off the provider's", skew.as_secs()),
            "set the clock automatically (NTP) before it drifts further",
        )
    } else {
        Check::ok(format!(
            "the clock agrees with the provider's ({} s)",
            skew.as_secs()
        ))
    }
}

fn backend() -> &'static str {
    if cfg!(target_os = "linux") {
        "the Secret Service (GNOME Keyring, KWallet, KeePassXC)"
    } else if cfg!(target_os = "macos") {
        "the macOS Keychain"
    } else if cfg!(windows) {
        "the Windows Credential Manager"
    } else {
        "no supported vault"
    }
}

async fn vault_check() -> Check {
    let probe = Vault::for_client("latchkey-doctor:", "probe");
    let text = format!("probe-{}", std::process::id());
    let round_trip = async {
        probe.write(text.clone()).await?;
        let back = probe.read().await?;
        probe.delete().await?;
        Ok::<_, crate::vault::VaultError>(back.as_deref() == Some(text.as_str()))
    };
    match round_trip.await {
        Ok(true) => Check::ok(format!(
            "the credential vault ({}) writes, reads and deletes",
            backend()
        )),
        Ok(false) => Check::fail(
            format!(
                "the credential vault ({}) gave back something else",
                backend()
            ),
            "the vault is not keeping entries; sessions last only until the app closes",
        ),
        Err(err) => Check::fail(
            format!("the credential vault ({}): {err}", backend()),
            "start and unlock a Secret Service (gnome-keyring, KWallet, KeePassXC) in your session",
        ),
    }
}

fn loopback_checks(config: &Config) -> Vec<Check> {
    let v4 = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let v6 = std::net::TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)));
    let mut checks = vec![match (v4.is_ok(), v6.is_ok()) {
        (true, true) => Check::ok("loopback listens on 127.0.0.1 and [::1]"),
        (true, false) => Check::ok("loopback listens on 127.0.0.1 ([::1] is not available)"),
        (false, true) => Check::warn(
            "127.0.0.1 cannot be bound; the sign-in listens on [::1]",
            "register http://[::1]/callback at providers that match the host",
        ),
        (false, false) => Check::fail(
            "neither 127.0.0.1 nor [::1] can be bound",
            "the browser cannot hand the sign-in back; check firewall or sandbox rules",
        ),
    }];
    checks.push(
        match crate::advice::registration(&config.issuer, &config.loopback_ports) {
            Ok(line) => Check::ok(line),
            Err((finding, fix)) => Check::fail(finding, fix),
        },
    );
    if !config.loopback_ports.is_empty() {
        let taken: Vec<String> = config
            .loopback_ports
            .iter()
            .filter(|p| {
                std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, **p))).is_err()
            })
            .map(u16::to_string)
            .collect();
        let all = config.loopback_ports.len();
        checks.push(if taken.is_empty() {
            Check::ok(format!("all {all} loopbackPorts are free"))
        } else if taken.len() < all {
            Check::warn(
                format!("loopbackPorts {} are taken; another is free", taken.join(", ")),
                "nothing to do now; the first free port is used",
            )
        } else {
            Check::fail(
                format!("every loopbackPort is taken ({})", taken.join(", ")),
                "close the program using them, or add a port (and its callback URL at the provider)",
            )
        });
    }
    checks
}

async fn session_check(config: &Config) -> Check {
    let session = crate::Session::new(config.clone());
    let unreadable = |err: &dyn std::fmt::Display| {
        Check::warn(
            format!("cannot read the stored session: {err}"),
            "see the vault line above",
        )
    };
    let list = match session.accounts().await {
        Ok(list) => list,
        Err(err) => return unreadable(&err),
    };
    // Revocations wait in the first entry, whichever account they were of.
    let pending = match SessionStore::for_client(&config.issuer, &config.client_id)
        .load()
        .await
    {
        Ok(entry) if !entry.to_revoke.is_empty() => format!(
            "; {} sign-out(s) wait for the provider to confirm the revocation",
            entry.to_revoke.len()
        ),
        Ok(_) => String::new(),
        Err(err) => return unreadable(&err),
    };
    let Some(active) = list.active() else {
        return Check::ok(format!("no session is stored{pending}"));
    };
    let others = match list.accounts.len() - 1 {
        0 => String::new(),
        1 => " (and 1 other account)".into(),
        n => format!(" (and {n} other accounts)"),
    };
    match session.for_account(&active.entry).store().load().await {
        Err(err) => unreadable(&err),
        Ok(entry) if entry.session.is_none() => Check::ok(format!(
            "no session is stored for {}, the active account{others}{pending}",
            active.label()
        )),
        Ok(_) => Check::ok(format!(
            "a session is stored for {}{others}{pending}",
            active.label()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str, ports: &[u16]) -> Config {
        let json = serde_json::json!({
            "issuer": issuer,
            "clientId": "doctor-test",
            "apiUrl": "http://127.0.0.1:1",
            "loopbackPorts": ports,
        });
        Config::parse(&json.to_string(), "test").unwrap()
    }

    fn date(offset_secs: i64) -> reqwest::header::HeaderValue {
        let when = chrono::Utc::now() + chrono::Duration::seconds(offset_secs);
        reqwest::header::HeaderValue::from_str(&when.to_rfc2822()).unwrap()
    }

    #[test]
    fn a_clock_off_the_providers_is_a_warning_then_a_failure() {
        assert_eq!(clock_check(Some(&date(0))).verdict, Verdict::Ok);
        let drifting = clock_check(Some(&date(-30)));
        assert_eq!(drifting.verdict, Verdict::Warn, "{drifting}");
        let off = clock_check(Some(&date(300)));
        assert_eq!(off.verdict, Verdict::Fail, "{off}");
        assert!(off.what.contains("off the provider's"), "{off}");
        assert!(off.to_string().contains("set the clock"), "{off}");
        assert_eq!(clock_check(None).verdict, Verdict::Warn);
    }

    /// Serves `document` as the discovery document of a provider on loopback; returns its
    /// issuer URL.
    async fn provider_serving(document: impl Fn(&str) -> serde_json::Value) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/", listener.local_addr().unwrap());
        let body = document(&issuer).to_string();
        let json = |body: String| ([("content-type", "application/json")], body);
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { json(body) }
                }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || async move { json(r#"{"keys":[]}"#.to_owned()) }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    }

    fn discovery(issuer: &str, pkce: &[&str]) -> serde_json::Value {
        discovery_with_scopes(
            issuer,
            pkce,
            &["openid", "profile", "email", "offline_access"],
        )
    }

    fn discovery_with_scopes(issuer: &str, pkce: &[&str], scopes: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "scopes_supported": scopes,
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}authorize"),
            "token_endpoint": format!("{issuer}token"),
            "jwks_uri": format!("{issuer}jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": pkce,
        })
    }

    #[tokio::test]
    async fn a_provider_naming_another_issuer_fails_with_the_fix() {
        let issuer = provider_serving(|_| discovery("https://elsewhere.example/", &["S256"])).await;
        let checks = provider_checks(&config(&issuer, &[])).await;
        let first = &checks[0];
        assert_eq!(first.verdict, Verdict::Fail, "{first}");
        assert!(first.what.contains("elsewhere.example"), "{first}");
        assert!(first.to_string().contains("\"issuer\""), "{first}");
    }

    #[tokio::test]
    async fn a_provider_without_pkce_s256_fails() {
        let issuer = provider_serving(|issuer| discovery(issuer, &["plain"])).await;
        let checks = provider_checks(&config(&issuer, &[])).await;
        let first = &checks[0];
        assert_eq!(first.verdict, Verdict::Fail, "{first}");
        assert!(first.what.contains("PKCE with S256"), "{first}");
    }

    #[tokio::test]
    async fn a_scope_the_provider_does_not_list_is_a_warning_that_names_it() {
        let issuer = provider_serving(|issuer| {
            discovery_with_scopes(issuer, &["S256"], &["openid", "profile", "email"])
        })
        .await;
        let checks = provider_checks(&config(&issuer, &[])).await;
        let scopes = checks
            .iter()
            .find(|c| c.what.contains("scope"))
            .expect("a line about scopes");
        assert_eq!(scopes.verdict, Verdict::Warn, "{scopes}");
        assert!(scopes.what.contains("offline_access"), "{scopes}");
        assert!(!scopes.what.contains("email"), "{scopes}");
        assert!(scopes.to_string().contains("no refresh token"), "{scopes}");
        let fine = provider_serving(|issuer| discovery(issuer, &["S256"])).await;
        let checks = provider_checks(&config(&fine, &[])).await;
        assert!(
            checks
                .iter()
                .any(|c| c.verdict == Verdict::Ok && c.what.contains("every configured scope")),
            "{checks:?}"
        );
    }

    #[test]
    fn busy_loopback_ports_warn_while_one_is_free_and_fail_when_none_is() {
        let hold = || std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (a, b) = (hold(), hold());
        let (pa, pb) = (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        );
        let free = {
            let probe = hold();
            probe.local_addr().unwrap().port()
        };
        let issuer = "http://127.0.0.1:1/";
        let ports_check = |ports: &[u16]| {
            loopback_checks(&config(issuer, ports))
                .into_iter()
                .find(|c| c.what.contains("loopbackPort"))
                .expect("a line about loopbackPorts")
        };
        let all_busy = ports_check(&[pa, pb]);
        assert_eq!(all_busy.verdict, Verdict::Fail, "{all_busy}");
        assert!(
            all_busy.what.contains(&format!("({pa}, {pb})")),
            "{all_busy}"
        );
        let one_free = ports_check(&[pa, free]);
        assert_eq!(one_free.verdict, Verdict::Warn, "{one_free}");
        drop((a, b));
    }
}
