//! Latchkey's own work in a sign-in, apart from the provider's response time.

use crate::report::{Figure, Target, stat};
use crate::{Inputs, millis};
use anyhow::{Context, Result};
use latchkey_auth::{Config, LoginOptions, Session};
use latchkey_test_support::DevStack;

pub(crate) fn config_for(stack: &DevStack) -> Result<Config> {
    Ok(Config::parse(
        &stack.config_json().to_string(),
        "the bench stack",
    )?)
}

pub(crate) fn as_user(user: &str) -> LoginOptions {
    LoginOptions {
        login_hint: Some(user.to_owned()),
        ..LoginOptions::default()
    }
}

pub(crate) async fn sign_in_overhead(inputs: &Inputs) -> Result<Vec<Figure>> {
    let stack = DevStack::start().await;
    // The production launcher: `xdg-open` on PATH, which `cargo xtask bench` makes the
    // scripted browser.
    let session = Session::new(config_for(&stack)?);
    let (mut own, mut provider, mut validation, mut vault) = (vec![], vec![], vec![], vec![]);
    // One warm-up sign-in (discovery, JWKS), then the measured ones.
    for run in 0..=inputs.runs * 2 {
        session.login(as_user("jemma"), |_| {}).await?;
        let t = session
            .last_sign_in_timings()
            .context("the engine recorded no timings")?;
        if run == 0 {
            continue;
        }
        own.push(millis(
            t.total.saturating_sub(t.token_endpoint + t.userinfo),
        ));
        provider.push(millis(t.token_endpoint + t.userinfo));
        validation.push(millis(t.validation));
        vault.push(millis(t.vault_write));
    }
    session.logout().await;
    Ok(vec![
        Figure::new("signin_own_ms", "Sign-in: Latchkey's own work", "ms", stat(own))
            .target(Target::AtMost(5.0))
            .method("loopback callback's arrival to signed-in state in the engine, minus the token endpoint's (and userinfo's) response time: ID token validation + vault write; the shell's state push is a channel send not timed here"),
        Figure::new("signin_provider_ms", "Sign-in: provider's token endpoint", "ms", stat(provider))
            .method("code exchange request to parsed answer, dev IdP on loopback (RS256 signing included)"),
        Figure::new("signin_validation_ms", "Sign-in: ID token validation", "ms", stat(validation))
            .method("openidconnect's verifier with the cached JWKS"),
        Figure::new("signin_vault_ms", "Sign-in: vault write", "ms", stat(vault))
            .method("refresh token into gnome-keyring's Secret Service over D-Bus"),
    ])
}
