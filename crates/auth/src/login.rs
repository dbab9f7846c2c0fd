//! The authorization code flow with PKCE in the system browser (RFC 8252, RFC 7636, RFC 9207).

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, CsrfToken, LoginHint, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
};
use url::Url;

use crate::config::{Config, RedirectMode};
use crate::device::DeviceAnswerProblem;
use crate::error::{ProviderError, SessionError};
use crate::lock_unpoisoned;
use crate::loopback::{Answer, Callback, LoopbackListener, PageOutcome, WaitingLink};
use crate::profile::Profile;
use crate::provider::{DiscoveryError, Provider};
use crate::quirks::Flavor;
use crate::session::{Interrupt, Session};
use crate::tokens::{Grant, TokenAnswerError};

/// The default time a person has to finish signing in in the browser.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// How to start a sign-in.
#[derive(Clone, Debug)]
pub struct LoginOptions {
    /// Open the provider's sign-up screen (Auth0 `screen_hint=signup`).
    pub signup: bool,
    /// Pre-fills the username at the provider (OpenID Connect `login_hint`).
    pub login_hint: Option<String>,
    /// "Use another account": the provider's account chooser (`prompt=select_account`) where
    /// discovery lists it, else its login screen even with a session (`prompt=login`).
    pub force_login: bool,
    /// How long the person has to finish signing in in the browser.
    pub timeout: Duration,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self {
            signup: false,
            login_hint: None,
            force_login: false,
            timeout: DEFAULT_LOGIN_TIMEOUT,
        }
    }
}

/// Why a sign-in did not complete.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The provider's configuration could not be read or is unusable.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The loopback listener could not be bound.
    #[error("cannot listen for the sign-in answer on 127.0.0.1: {0}")]
    Listener(std::io::Error),
    /// The configuration asks for a deep-link redirect, which only the desktop app handles.
    #[error(
        "the deep-link redirect needs the desktop app, which registers its URI scheme; set \"redirect\": \"loopback\" to sign in here"
    )]
    RedirectModeUnsupported,
    /// The person (or the app) cancelled.
    #[error("the sign-in was cancelled")]
    Cancelled,
    /// A newer sign-in replaced this one.
    #[error("a newer sign-in replaced this one")]
    Replaced,
    /// Nobody completed the sign-in in time.
    #[error("the sign-in was not completed within {} minutes", .0.as_secs() / 60)]
    TimedOut(Duration),
    /// The provider answered with an error (RFC 6749 §4.1.2.1), such as `access_denied`.
    #[error("the provider refused the sign-in: {}", describe_provider_error(.error, .description.as_deref()))]
    Provider {
        /// The OAuth error code (`access_denied`, `invalid_scope`, …).
        error: String,
        /// The provider's own description of the error, if it sent one.
        description: Option<String>,
    },
    /// RFC 9207: the response names another issuer (a mix-up attack, or a misconfiguration).
    #[error("the sign-in answer came from {found:?}, not the configured issuer {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer the answer named.
        found: String,
    },
    /// RFC 9207: the provider promised an `iss` parameter and the response has none.
    #[error("the sign-in answer lacks the iss parameter the provider promised (RFC 9207)")]
    MissingIssuer,
    /// The answer has neither a code nor an error.
    #[error("the sign-in answer has no authorization code")]
    MissingCode,
    /// The code could not be exchanged for tokens.
    #[error("the provider did not exchange the authorization code: {0}")]
    Exchange(ProviderError),
    /// The token endpoint's answer was refused: the same checks for every grant
    /// ([`TokenAnswerError`]).
    #[error(transparent)]
    Answer(#[from] TokenAnswerError),
    /// The tokens could not be kept: another process held the session's lock too long.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The provider lists no device authorization endpoint (RFC 8628).
    #[error(
        "the provider advertises no device sign-in (RFC 8628: no device_authorization_endpoint in its discovery documents); enable the Device Code grant for this application, give its endpoint as \"deviceAuthorizationEndpoint\" in the configuration, or sign in with a browser"
    )]
    DeviceUnsupported,
    /// The device sign-in failed at the provider.
    #[error("the device sign-in failed: {0}")]
    Device(ProviderError),
    /// The provider's device authorization answer cannot work, or would make the device
    /// poll in a busy loop.
    #[error("the device sign-in failed: the provider's device authorization answer {0}")]
    DeviceAnswer(DeviceAnswerProblem),
    /// Nobody approved the device code before it expired (RFC 8628 `expired_token`).
    #[error("the code expired before it was approved; run the sign-in again for a new one")]
    DeviceCodeExpired,
}

fn describe_provider_error(error: &str, description: Option<&str>) -> String {
    let plain = match error {
        "access_denied" => "access was denied or the sign-in was cancelled at the provider",
        "login_required" | "interaction_required" | "consent_required" => {
            "the provider needs you to sign in again"
        }
        "invalid_scope" => "the requested scopes are not allowed for this application",
        "unauthorized_client" => "this application may not use this kind of sign-in",
        "invalid_request" => "the provider rejected the request",
        "server_error" | "temporarily_unavailable" => {
            "the provider has a problem right now; try again later"
        }
        _ => "",
    };
    match (plain.is_empty(), description) {
        (false, Some(d)) => format!("{plain} ({error}: {d})"),
        (false, None) => format!("{plain} ({error})"),
        (true, Some(d)) => format!("{error}: {d}"),
        (true, None) => error.to_owned(),
    }
}

impl Session {
    /// Signs in through the system browser. `on_url` receives the sign-in URL before the
    /// browser is asked to open it, so a front end can show or copy it. A sign-in already
    /// waiting is replaced.
    pub async fn login(
        &self,
        options: LoginOptions,
        on_url: impl FnOnce(&Url) + Send,
    ) -> Result<Profile, LoginError> {
        if self.inner.config.redirect == RedirectMode::DeepLink
            && self.inner.deep_link.get().is_none()
        {
            return Err(LoginError::RedirectModeUnsupported);
        }
        let (interrupt_tx, interrupt_rx) = oneshot::channel();
        if let Some(previous) = lock_unpoisoned(&self.inner.pending).replace(interrupt_tx) {
            let _ = previous.send(Interrupt::Replaced);
        }
        let result = self.login_inner(options, on_url, interrupt_rx).await;
        if let Err(err) = &result {
            tracing::info!("sign-in did not complete: {err}");
        }
        result
    }

    /// Ends a sign-in that is waiting for the browser.
    pub fn cancel_login(&self) -> bool {
        match lock_unpoisoned(&self.inner.pending).take() {
            Some(tx) => tx.send(Interrupt::Cancelled).is_ok(),
            None => false,
        }
    }

    async fn login_inner(
        &self,
        options: LoginOptions,
        on_url: impl FnOnce(&Url) + Send,
        mut interrupt: oneshot::Receiver<Interrupt>,
    ) -> Result<Profile, LoginError> {
        let provider = self.provider().await?;
        let config = &self.inner.config;
        let (authorization, mut answer) = match self.inner.deep_link.get() {
            Some(redirect) if config.redirect == RedirectMode::DeepLink => {
                let authorization =
                    authorization(&provider, config, redirect.to_string(), &options)?;
                let (tx, rx) = oneshot::channel();
                *lock_unpoisoned(&self.inner.waiting_link) = Some(WaitingLink {
                    state: authorization.csrf.secret().clone(),
                    answer: tx,
                });
                (authorization, Answer::DeepLink(rx))
            }
            _ => {
                let listener = LoopbackListener::bind_ports(&config.loopback_ports)
                    .await
                    .map_err(LoginError::Listener)?
                    .for_app(self.app().name());
                let authorization =
                    authorization(&provider, config, listener.redirect_uri(), &options)?;
                let server = listener.serve(authorization.csrf.clone());
                (authorization, Answer::Loopback(server))
            }
        };
        on_url(&authorization.url);
        tracing::debug!("sign-in started; waiting for the browser's answer");
        if let Err(err) = self.inner.browser.open(&authorization.url) {
            tracing::warn!("could not open the browser ({err}); the sign-in URL is shown instead");
        }
        let state = authorization.csrf.secret().clone();
        let outcome = tokio::select! {
            callback = answer.next() => callback.ok_or(LoginError::Cancelled),
            why = &mut interrupt => Err(match why {
                Ok(Interrupt::Replaced) => LoginError::Replaced,
                _ => LoginError::Cancelled,
            }),
            _ = tokio::time::sleep(options.timeout) => Err(LoginError::TimedOut(options.timeout)),
        };
        // A deep-link sign-in that ended stops taking answers (unless a newer one replaced it).
        {
            let mut waiting = lock_unpoisoned(&self.inner.waiting_link);
            if waiting.as_ref().is_some_and(|link| link.state == state) {
                waiting.take();
            }
        }
        let callback = outcome?;
        let arrived = Instant::now();
        let mut timings = SignInTimings::default();
        let nonce = authorization.nonce.clone();
        let result = async {
            let code = check_callback(&provider, &callback)?;
            let exchanging = Instant::now();
            // A key made for this sign-in, when the tokens are to be DPoP-bound.
            let dpop = self.new_dpop_key(&provider);
            let response = match &dpop {
                Some(key) => {
                    let http = self.dpop_http(key);
                    exchange(
                        &provider,
                        &http,
                        &authorization.redirect_uri,
                        authorization.verifier,
                        code,
                    )
                    .await?
                }
                None => {
                    exchange(
                        &provider,
                        &self.inner.http,
                        &authorization.redirect_uri,
                        authorization.verifier,
                        code,
                    )
                    .await?
                }
            };
            timings.token_endpoint = exchanging.elapsed();
            let checking = Instant::now();
            let accepted = self
                .check_answer(&provider, &response, Grant::Code { nonce: &nonce }, dpop)
                .await?;
            timings.userinfo = accepted.userinfo;
            timings.validation = checking.elapsed().saturating_sub(accepted.userinfo);
            Ok::<_, LoginError>((response, accepted))
        }
        .await;
        callback.respond(page_outcome(self.app().name(), &result));
        let (response, accepted) = result?;
        tracing::debug!("authorization code exchanged; the answer and its ID token are valid");
        lock_unpoisoned(&self.inner.pending).take();
        let storing = Instant::now();
        let profile = self.sign_in_with(response, accepted).await?;
        timings.vault_write = storing.elapsed();
        timings.total = arrived.elapsed();
        *lock_unpoisoned(&self.inner.last_sign_in) = Some(timings);
        Ok(profile)
    }
}

/// A flow that has sent the person to the provider and waits for the answer.
pub(crate) struct Authorization {
    pub(crate) url: Url,
    pub(crate) redirect_uri: String,
    pub(crate) csrf: CsrfToken,
    pub(crate) nonce: Nonce,
    pub(crate) verifier: openidconnect::PkceCodeVerifier,
}

/// Builds the authorization URL with a fresh PKCE S256 verifier, `state` and `nonce`.
pub(crate) fn authorization(
    provider: &Provider,
    config: &Config,
    redirect_uri: String,
    options: &LoginOptions,
) -> Result<Authorization, LoginError> {
    let redirect = RedirectUrl::new(redirect_uri.clone())
        .map_err(|e| LoginError::Exchange(ProviderError::unusable(e)))?;
    let client = provider.client.clone().set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .add_scopes(
            config
                .scopes
                .iter()
                .filter(|s| *s != "openid")
                .map(|s| Scope::new(s.clone())),
        );
    if let Some(audience) = &config.audience {
        request = request.add_extra_param("audience", audience.clone());
    }
    let flavor = Flavor::of(config, Some(provider));
    if options.signup {
        let (name, value) = flavor.signup_parameter(&provider.extra().prompt_values_supported);
        request = request.add_extra_param(name, value);
    }
    if let Some(hint) = &options.login_hint {
        request = request.set_login_hint(LoginHint::new(hint.clone()));
    }
    if options.force_login {
        let chooser = provider
            .extra()
            .prompt_values_supported
            .iter()
            .any(|p| p == "select_account");
        request = request.add_prompt(if chooser {
            CoreAuthPrompt::SelectAccount
        } else {
            CoreAuthPrompt::Login
        });
    }
    // OpenID Connect Core §11: offline_access (a refresh token) only with prompt=consent.
    if config.scopes.iter().any(|s| s == "offline_access")
        && flavor.needs_consent_for_offline_access()
    {
        request = request.add_prompt(CoreAuthPrompt::Consent);
    }
    let (url, csrf, nonce) = request.url();
    Ok(Authorization {
        url,
        redirect_uri,
        csrf,
        nonce,
        verifier,
    })
}

/// Checks the callback (error, RFC 9207 `iss`, code) and returns the code.
pub(crate) fn check_callback(
    provider: &Provider,
    callback: &Callback,
) -> Result<AuthorizationCode, LoginError> {
    let params = &callback.params;
    let expected = provider.metadata.issuer().as_str();
    match params.get("iss") {
        Some(found) if found != expected => {
            return Err(LoginError::IssuerMismatch {
                expected: expected.to_owned(),
                found: found.clone(),
            });
        }
        None if provider
            .extra()
            .authorization_response_iss_parameter_supported =>
        {
            return Err(LoginError::MissingIssuer);
        }
        _ => {}
    }
    if let Some(error) = params.get("error") {
        return Err(LoginError::Provider {
            error: error.clone(),
            description: params.get("error_description").cloned(),
        });
    }
    params
        .get("code")
        .filter(|c| !c.is_empty())
        .map(|c| AuthorizationCode::new(c.clone()))
        .ok_or(LoginError::MissingCode)
}

/// Exchanges the code (with the PKCE verifier) at the token endpoint.
pub(crate) async fn exchange<C>(
    provider: &Provider,
    http: &C,
    redirect_uri: &str,
    verifier: openidconnect::PkceCodeVerifier,
    code: AuthorizationCode,
) -> Result<CoreTokenResponse, LoginError>
where
    C: for<'c> openidconnect::AsyncHttpClient<'c, Error = latchkey_http::HttpError>,
{
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| LoginError::Exchange(ProviderError::unusable(e)))?;
    let client = provider.client.clone().set_redirect_uri(redirect);
    client
        .exchange_code(code)
        .map_err(|e| LoginError::Exchange(ProviderError::unusable(e)))?
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .map_err(|e| LoginError::Exchange(ProviderError::request(e)))
}

/// Where the time between the provider's answer and the signed-in state went, for the last
/// sign-in: the provider's own response times, and Latchkey's work around them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignInTimings {
    /// The code exchange at the token endpoint, request to parsed answer (the provider).
    pub token_endpoint: Duration,
    /// ID token validation, a JWKS fetch included when one was needed.
    pub validation: Duration,
    /// `/userinfo`, when the ID token carried no profile (the provider); zero otherwise.
    pub userinfo: Duration,
    /// Storing the refresh token in the OS vault and taking the tokens into memory.
    pub vault_write: Duration,
    /// From the callback's arrival to the signed-in state, all of the above included.
    pub total: Duration,
}

/// The page the browser shows for `result`.
pub(crate) fn page_outcome<T>(app: &str, result: &Result<T, LoginError>) -> PageOutcome {
    match result {
        Ok(_) => PageOutcome::SignedIn,
        Err(err) => PageOutcome::Failed(format!(
            "Sign-in failed: {err}. Return to {app} to try again."
        )),
    }
}
