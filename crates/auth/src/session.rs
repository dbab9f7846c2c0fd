//! The signed-in session: tokens in memory, the refresh token in the vault.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreErrorResponseType, CoreIdToken, CoreIdTokenClaims, CoreTokenResponse,
};
use openidconnect::{
    AccessToken, OAuth2TokenResponse, RefreshToken, RequestTokenError, TokenResponse,
};
use serde::Serialize;
use tokio::sync::oneshot;
use url::Url;

use crate::browser::{BrowserLauncher, SystemBrowser};
use crate::config::{Config, RedirectMode};
use crate::login::{self, LoginError, LoginOptions};
use crate::loopback::{Callback, CallbackServer, LoopbackListener, PageOutcome, same_secret};
use crate::provider::{DiscoveryError, Provider, error_chain};
use crate::vault::{Vault, VaultError};

/// A token is refreshed this long before it expires (or at half its lifetime, if shorter).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Who is signed in, as the ID token says. Holds no token.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    pub sub: String,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
    /// The validated ID token claims, for display.
    pub claims: serde_json::Value,
}

impl Profile {
    fn from_claims(claims: &CoreIdTokenClaims, userinfo: Option<&UserinfoProfile>) -> Self {
        let userinfo = userinfo.cloned().unwrap_or_default();
        Self {
            sub: claims.subject().to_string(),
            name: claims
                .name()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string())
                .or(userinfo.name)
                .or_else(|| claims.preferred_username().map(|u| u.to_string())),
            nickname: claims
                .nickname()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string())
                .or(userinfo.nickname),
            email: claims.email().map(|e| e.to_string()).or(userinfo.email),
            picture: claims
                .picture()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string())
                .or(userinfo.picture),
            claims: serde_json::to_value(claims).unwrap_or_default(),
        }
    }

    /// The best name to greet the person with.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.nickname.as_deref())
            .or(self.email.as_deref())
            .unwrap_or(&self.sub)
    }
}

/// Profile claims from `/userinfo` (OpenID Connect Core §5.3), for an ID token that carries
/// none; taken only when its `sub` is the ID token's (§5.3.2).
#[derive(Clone, Debug, Default)]
struct UserinfoProfile {
    name: Option<String>,
    nickname: Option<String>,
    email: Option<String>,
    picture: Option<String>,
}

/// Why the session cannot produce what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Nobody is signed in.
    #[error("you are not signed in")]
    SignedOut,
    /// The provider ended the session (`invalid_grant`); the stored token was deleted.
    #[error("your session has ended; sign in again")]
    Expired,
    /// The provider could not be reached; the stored session is kept for later.
    #[error("cannot reach the sign-in provider ({0}); your session is kept, try again when online")]
    Offline(String),
    /// The provider answered with a server error; the stored session is kept.
    #[error("the sign-in provider is having problems ({0}); your session is kept, try again later")]
    ProviderUnavailable(String),
    /// The provider refused the refresh for another reason.
    #[error("the sign-in provider refused to renew the session: {0}")]
    Provider(String),
    /// A refreshed ID token failed validation or names someone else.
    #[error("the provider's ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What `restore` found.
#[derive(Clone, Debug, PartialEq)]
pub enum Restored {
    SignedIn(Profile),
    NothingStored,
}

/// What `logout` did.
#[derive(Clone, Debug)]
pub struct LogoutOutcome {
    /// The refresh token was revoked at the provider (RFC 7009).
    pub revoked: bool,
    /// The provider's end-session URL, to end its browser session too (it carries the ID
    /// token as `id_token_hint`: a browser may see it, the web view never does).
    /// [`Session::end_provider_session`] opens it.
    pub end_session_url: Option<Url>,
    /// The vault entry could not be deleted.
    pub vault_error: Option<VaultError>,
}

struct Tokens {
    access: AccessToken,
    /// When the access token should be renewed; `None` if the provider gave no lifetime.
    renew_at: Option<Instant>,
    refresh: Option<RefreshToken>,
    id_token: Option<CoreIdToken>,
    claims: CoreIdTokenClaims,
    userinfo: Option<UserinfoProfile>,
    generation: u64,
}

enum Interrupt {
    Cancelled,
    Replaced,
}

/// Why a deep link was not taken as the answer to a sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectRejected {
    /// The URL is not this app's redirect URI (another scheme or path).
    #[error("the link is not a sign-in answer for Latchkey")]
    NotARedirect,
    /// No sign-in is waiting (it ended, or this process did not start it).
    #[error("a sign-in answer arrived but no sign-in is waiting for one; start the sign-in again")]
    NothingWaiting,
    /// The `state` does not match the sign-in in progress: a forged or stale answer.
    #[error("a sign-in answer that does not belong to the sign-in in progress was refused")]
    WrongState,
}

/// A deep-link sign-in waiting for its answer.
struct WaitingLink {
    state: String,
    answer: oneshot::Sender<Callback>,
}

/// Where the provider's answer comes from.
enum Answer {
    Loopback(CallbackServer),
    DeepLink(oneshot::Receiver<Callback>),
}

impl Answer {
    async fn next(&mut self) -> Option<Callback> {
        match self {
            Self::Loopback(server) => server.callback().await,
            Self::DeepLink(rx) => rx.await.ok(),
        }
    }
}

struct Inner {
    config: Config,
    http: reqwest::Client,
    browser: Arc<dyn BrowserLauncher>,
    vault: Vault,
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
    tokens: Mutex<Option<Tokens>>,
    /// A refresh token read from the vault but not yet redeemed (the provider was offline).
    dormant: Mutex<Option<RefreshToken>>,
    refresh_lock: tokio::sync::Mutex<u64>,
    pending: Mutex<Option<oneshot::Sender<Interrupt>>>,
    /// The private-use URI redirect (RFC 8252 §7.1), when the front end can receive it.
    deep_link: OnceLock<Url>,
    waiting_link: Mutex<Option<WaitingLink>>,
    last_sign_in: Mutex<Option<login::SignInTimings>>,
    vault_problem: Mutex<Option<VaultError>>,
}

/// The session. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("issuer", &self.inner.config.issuer)
            .field("signed_in", &self.is_signed_in())
            .finish()
    }
}

/// The HTTP client for provider calls: no redirects (oauth2's advice against SSRF), rustls.
pub fn provider_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with rustls builds")
}

impl Session {
    /// A session that opens the system browser.
    pub fn new(config: Config) -> Self {
        Self::with_browser(config, Arc::new(SystemBrowser))
    }

    pub fn with_browser(config: Config, browser: Arc<dyn BrowserLauncher>) -> Self {
        let vault = Vault::for_client(&config.issuer, &config.client_id);
        Self {
            inner: Arc::new(Inner {
                config,
                http: provider_http_client(),
                browser,
                vault,
                provider: tokio::sync::Mutex::new(None),
                tokens: Mutex::new(None),
                dormant: Mutex::new(None),
                refresh_lock: tokio::sync::Mutex::new(0),
                pending: Mutex::new(None),
                deep_link: OnceLock::new(),
                waiting_link: Mutex::new(None),
                last_sign_in: Mutex::new(None),
                vault_problem: Mutex::new(None),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Says that this front end receives `redirect_uri` (a private-use URI scheme, RFC 8252
    /// §7.1) and hands it to [`Session::deliver_redirect`]; needed for `"redirect": "deep-link"`.
    pub fn accept_deep_links(&self, redirect_uri: Url) {
        let _ = self.inner.deep_link.set(redirect_uri);
    }

    /// Hands a deep link (the provider's answer, opened by the OS) to the waiting sign-in.
    /// Only a link with the `state` of the sign-in in progress is taken; anything else is
    /// refused and the sign-in goes on waiting.
    pub fn deliver_redirect(&self, url: &Url) -> Result<(), RedirectRejected> {
        let expected = self
            .inner
            .deep_link
            .get()
            .ok_or(RedirectRejected::NotARedirect)?;
        if url.scheme() != expected.scheme()
            || url.host() != expected.host()
            || url.path() != expected.path()
        {
            return Err(RedirectRejected::NotARedirect);
        }
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let mut waiting = self.inner.waiting_link.lock().expect("waiting link lock");
        let state_ok = match waiting.as_ref() {
            None => return Err(RedirectRejected::NothingWaiting),
            Some(link) => params
                .get("state")
                .is_some_and(|s| same_secret(s, &link.state)),
        };
        if !state_ok {
            tracing::warn!("refused a sign-in answer with the wrong state");
            return Err(RedirectRejected::WrongState);
        }
        let link = waiting.take().expect("checked above");
        link.answer
            .send(Callback::without_page(params))
            .map_err(|_| RedirectRejected::NothingWaiting)
    }

    /// Where the time went in the last completed sign-in (for `cargo xtask bench`).
    pub fn last_sign_in_timings(&self) -> Option<login::SignInTimings> {
        *self.inner.last_sign_in.lock().expect("timings lock")
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// The last vault problem, if the vault is failing: the session then lives in memory only.
    pub fn vault_problem(&self) -> Option<VaultError> {
        self.inner
            .vault_problem
            .lock()
            .expect("vault problem lock")
            .clone()
    }

    pub fn is_signed_in(&self) -> bool {
        self.inner.tokens.lock().expect("tokens lock").is_some()
    }

    pub fn profile(&self) -> Option<Profile> {
        self.inner
            .tokens
            .lock()
            .expect("tokens lock")
            .as_ref()
            .map(|t| Profile::from_claims(&t.claims, t.userinfo.as_ref()))
    }

    /// Discovers the provider once; a failure is not cached, so the next call retries.
    pub async fn provider(&self) -> Result<Arc<Provider>, DiscoveryError> {
        let mut cached = self.inner.provider.lock().await;
        if let Some(p) = cached.as_ref() {
            return Ok(p.clone());
        }
        let provider = Arc::new(Provider::discover(&self.inner.config, &self.inner.http).await?);
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Restores the session from the vault at start-up. A network error keeps the stored
    /// token (call again later); only `invalid_grant` deletes it.
    pub async fn restore(&self) -> Result<Restored, SessionError> {
        if let Some(profile) = self.profile() {
            return Ok(Restored::SignedIn(profile));
        }
        let stored = self.inner.dormant.lock().expect("dormant lock").clone();
        // Discovery starts while the vault answers, so a restore waits for the slower of the
        // two, not both; with nothing stored nobody waits for it (an offline provider must
        // not hold up the signed-out view). The refresh below joins it through the cache lock.
        let warm = self.clone();
        tokio::spawn(async move {
            let _ = warm.provider().await;
        });
        let stored = match stored {
            Some(token) => Some(token),
            None => match self.inner.vault.load().await {
                Ok(token) => token,
                Err(err) => {
                    self.note_vault_problem(&err);
                    return Err(SessionError::Vault(err));
                }
            },
        };
        let Some(refresh) = stored else {
            return Ok(Restored::NothingStored);
        };
        *self.inner.dormant.lock().expect("dormant lock") = Some(refresh.clone());
        let _guard = self.inner.refresh_lock.lock().await;
        self.redeem(refresh).await?;
        self.inner.dormant.lock().expect("dormant lock").take();
        Ok(Restored::SignedIn(
            self.profile().ok_or(SessionError::SignedOut)?,
        ))
    }

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
        if let Some(previous) = self
            .inner
            .pending
            .lock()
            .expect("pending lock")
            .replace(interrupt_tx)
        {
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
        match self.inner.pending.lock().expect("pending lock").take() {
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
                    login::authorization(&provider, config, redirect.to_string(), &options);
                let (tx, rx) = oneshot::channel();
                *self.inner.waiting_link.lock().expect("waiting link lock") = Some(WaitingLink {
                    state: authorization.csrf.secret().clone(),
                    answer: tx,
                });
                (authorization, Answer::DeepLink(rx))
            }
            _ => {
                let listener = LoopbackListener::bind()
                    .await
                    .map_err(LoginError::Listener)?;
                let authorization =
                    login::authorization(&provider, config, listener.redirect_uri(), &options);
                let server = listener.serve(authorization.csrf.secret().clone());
                (authorization, Answer::Loopback(server))
            }
        };
        on_url(&authorization.url);
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
            let mut waiting = self.inner.waiting_link.lock().expect("waiting link lock");
            if waiting.as_ref().is_some_and(|link| link.state == state) {
                waiting.take();
            }
        }
        let callback = outcome?;
        let arrived = Instant::now();
        let mut timings = login::SignInTimings::default();
        let result = async {
            let code = login::check_callback(&provider, &callback)?;
            login::exchange(
                &provider,
                &self.inner.config,
                &self.inner.http,
                authorization,
                code,
                &mut timings,
            )
            .await
        }
        .await;
        callback.respond(login::page_outcome(&result));
        let (response, claims) = result?;
        self.inner.pending.lock().expect("pending lock").take();
        let asking = Instant::now();
        let userinfo = self.userinfo(&provider, &response, &claims).await;
        timings.userinfo = asking.elapsed();
        let storing = Instant::now();
        self.adopt(response, claims, userinfo).await;
        timings.vault_write = storing.elapsed();
        timings.total = arrived.elapsed();
        *self.inner.last_sign_in.lock().expect("timings lock") = Some(timings);
        Ok(self.profile().expect("just signed in"))
    }

    /// Asks `/userinfo` for the profile when the ID token has none of its own; an answer
    /// about another `sub` (or none at all) is discarded.
    async fn userinfo(
        &self,
        provider: &Provider,
        response: &CoreTokenResponse,
        claims: &CoreIdTokenClaims,
    ) -> Option<UserinfoProfile> {
        let has_profile = claims.name().is_some() || claims.email().is_some();
        if has_profile {
            return None;
        }
        let request = provider
            .client
            .user_info(
                response.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .ok()?;
        let answer: openidconnect::core::CoreUserInfoClaims =
            match request.request_async(&self.inner.http).await {
                Ok(answer) => answer,
                Err(err) => {
                    // The crate compares `sub` with the ID token's: a mismatch lands here too.
                    tracing::warn!("ignored the provider's userinfo answer: {err}");
                    return None;
                }
            };
        Some(UserinfoProfile {
            name: answer
                .name()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string()),
            nickname: answer
                .nickname()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string()),
            email: answer.email().map(|e| e.to_string()),
            picture: answer
                .picture()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string()),
        })
    }

    /// Takes fresh tokens: a new refresh token goes to the vault before the access token is used.
    async fn adopt(
        &self,
        response: CoreTokenResponse,
        claims: CoreIdTokenClaims,
        userinfo: Option<UserinfoProfile>,
    ) {
        let previous_refresh = self
            .inner
            .tokens
            .lock()
            .expect("tokens lock")
            .as_ref()
            .and_then(|t| t.refresh.clone());
        let refresh = response.refresh_token().cloned().or(previous_refresh);
        if let Some(new) = response.refresh_token() {
            match self.inner.vault.store(new).await {
                Ok(()) => *self.inner.vault_problem.lock().expect("vault problem lock") = None,
                Err(err) => self.note_vault_problem(&err),
            }
        }
        let lifetime = response.expires_in();
        let renew_at = lifetime.map(|life| Instant::now() + life - REFRESH_MARGIN.min(life / 2));
        let mut tokens = self.inner.tokens.lock().expect("tokens lock");
        let generation = tokens.as_ref().map_or(0, |t| t.generation) + 1;
        let id_token = response
            .id_token()
            .cloned()
            .or_else(|| tokens.as_ref().and_then(|t| t.id_token.clone()));
        *tokens = Some(Tokens {
            access: response.access_token().clone(),
            renew_at,
            refresh,
            id_token,
            claims,
            userinfo,
            generation,
        });
    }

    fn note_vault_problem(&self, err: &VaultError) {
        tracing::warn!("{err}");
        *self.inner.vault_problem.lock().expect("vault problem lock") = Some(err.clone());
    }

    /// A valid access token, refreshed first if it is about to expire. Concurrent callers
    /// share one refresh.
    pub async fn access_token(&self) -> Result<(AccessToken, u64), SessionError> {
        let stale_generation = {
            let tokens = self.inner.tokens.lock().expect("tokens lock");
            let tokens = tokens.as_ref().ok_or(SessionError::SignedOut)?;
            if tokens.renew_at.is_none_or(|at| Instant::now() < at) {
                return Ok((tokens.access.clone(), tokens.generation));
            }
            tokens.generation
        };
        self.refresh(stale_generation).await?;
        let tokens = self.inner.tokens.lock().expect("tokens lock");
        let tokens = tokens.as_ref().ok_or(SessionError::SignedOut)?;
        Ok((tokens.access.clone(), tokens.generation))
    }

    /// Renews the tokens now, for a profile changed at the provider, and returns the profile
    /// the fresh ID token describes.
    pub async fn reload_profile(&self) -> Result<Profile, SessionError> {
        let (_, generation) = self.access_token().await?;
        self.refresh(generation).await?;
        self.profile().ok_or(SessionError::SignedOut)
    }

    /// Renews the tokens unless someone already replaced generation `stale_generation`.
    pub async fn refresh(&self, stale_generation: u64) -> Result<(), SessionError> {
        let _guard = self.inner.refresh_lock.lock().await;
        let refresh = {
            let tokens = self.inner.tokens.lock().expect("tokens lock");
            let tokens = tokens.as_ref().ok_or(SessionError::SignedOut)?;
            if tokens.generation != stale_generation {
                return Ok(());
            }
            tokens.refresh.clone().ok_or(SessionError::Expired)?
        };
        self.redeem(refresh).await
    }

    /// Exchanges `refresh` at the token endpoint. Call with `refresh_lock` held.
    async fn redeem(&self, refresh: RefreshToken) -> Result<(), SessionError> {
        let provider = self.provider().await.map_err(|e| match e {
            DiscoveryError::Fetch { detail, .. } => SessionError::Offline(detail),
            other => SessionError::Discovery(other),
        })?;
        let request = provider
            .client
            .exchange_refresh_token(&refresh)
            .map_err(|e| SessionError::Provider(e.to_string()))?;
        let response = match request.request_async(&self.inner.http).await {
            Ok(response) => response,
            Err(RequestTokenError::ServerResponse(err))
                if *err.error() == CoreErrorResponseType::InvalidGrant =>
            {
                tracing::info!(
                    "the provider ended the session (invalid_grant); deleting the stored token"
                );
                self.forget().await;
                return Err(SessionError::Expired);
            }
            Err(err @ RequestTokenError::Request(_)) => {
                return Err(SessionError::Offline(describe_token_error(&err)));
            }
            Err(err @ RequestTokenError::ServerResponse(_)) => {
                return Err(SessionError::Provider(describe_token_error(&err)));
            }
            Err(err) => {
                return Err(SessionError::ProviderUnavailable(describe_token_error(
                    &err,
                )));
            }
        };
        let previous = self
            .inner
            .tokens
            .lock()
            .expect("tokens lock")
            .as_ref()
            .map(|t| t.claims.clone());
        let claims = match response.id_token() {
            Some(id_token) => {
                let claims = crate::idtoken::verify(
                    &provider,
                    &self.inner.http,
                    &self.inner.config.client_id,
                    id_token,
                    None,
                )
                .await
                .map_err(SessionError::InvalidIdToken)?;
                // OpenID Connect Core §12.2: a refreshed ID token is about the same person.
                if let Some(previous) = &previous
                    && (previous.subject() != claims.subject()
                        || previous.issuer() != claims.issuer())
                {
                    return Err(SessionError::InvalidIdToken(
                        "the refreshed ID token names another user".into(),
                    ));
                }
                claims
            }
            None => previous.ok_or_else(|| {
                SessionError::InvalidIdToken("the provider returned no ID token".into())
            })?,
        };
        let userinfo = self.userinfo(&provider, &response, &claims).await;
        self.adopt(response, claims, userinfo).await;
        Ok(())
    }

    /// Clears memory and deletes the stored token.
    async fn forget(&self) {
        self.inner.tokens.lock().expect("tokens lock").take();
        self.inner.dormant.lock().expect("dormant lock").take();
        if let Err(err) = self.inner.vault.delete().await {
            self.note_vault_problem(&err);
        }
    }

    /// Signs out: revokes the refresh token (RFC 7009) when the provider can, deletes it
    /// from the vault, clears memory, and returns the provider's end-session URL.
    pub async fn logout(&self) -> LogoutOutcome {
        self.cancel_login();
        let tokens = self.inner.tokens.lock().expect("tokens lock").take();
        let dormant = self.inner.dormant.lock().expect("dormant lock").take();
        let refresh = tokens.as_ref().and_then(|t| t.refresh.clone()).or(dormant);
        let refresh = match refresh {
            Some(r) => Some(r),
            None => self.inner.vault.load().await.ok().flatten(),
        };
        let provider = self.provider().await.ok();
        let mut revoked = false;
        if let (Some(provider), Some(refresh)) = (&provider, &refresh)
            && let Some(endpoint) = &provider.extra().revocation_endpoint
        {
            revoked = crate::revoke::revoke(
                &self.inner.http,
                endpoint,
                &self.inner.config.client_id,
                refresh,
            )
            .await;
        }
        let vault_error = self.inner.vault.delete().await.err();
        let id_token = tokens
            .as_ref()
            .and_then(|t| t.id_token.as_ref())
            .map(|t| t.to_string());
        let end_session_url = provider.as_ref().and_then(|p| {
            end_session_url(
                &self.inner.config,
                p.extra().end_session_endpoint.as_ref(),
                id_token.as_deref(),
            )
        });
        LogoutOutcome {
            revoked,
            end_session_url,
            vault_error,
        }
    }
}

impl Session {
    /// Ends the provider's own browser session after [`Session::logout`] (OpenID Connect
    /// RP-Initiated Logout 1.0 §2–3): opens `end_session_url` in the system browser with a
    /// loopback `post_logout_redirect_uri` and a fresh `state`, and waits until the provider
    /// sends the browser back with that `state`; the tab then says the person is signed out.
    /// Auth0's `/v2/logout` takes `returnTo` instead and returns no `state`, so the `state`
    /// travels inside `returnTo`.
    pub async fn end_provider_session(
        &self,
        end_session_url: &Url,
        timeout: Duration,
    ) -> Result<(), LoginError> {
        let listener = LoopbackListener::bind()
            .await
            .map_err(LoginError::Listener)?;
        let state = openidconnect::CsrfToken::new_random();
        let mut url = end_session_url.clone();
        if url.path().ends_with("/v2/logout") {
            let mut return_to = Url::parse(&listener.redirect_uri()).expect("a loopback URL");
            return_to
                .query_pairs_mut()
                .append_pair("state", state.secret());
            url.query_pairs_mut()
                .append_pair("returnTo", return_to.as_str());
        } else {
            url.query_pairs_mut()
                .append_pair("post_logout_redirect_uri", &listener.redirect_uri())
                .append_pair("state", state.secret());
        }
        let mut server = listener.serve(state.secret().clone());
        if let Err(err) = self.inner.browser.open(&url) {
            tracing::warn!("could not open the browser to sign out at the provider: {err}");
        }
        let callback = tokio::time::timeout(timeout, server.callback())
            .await
            .map_err(|_| LoginError::TimedOut(timeout))?
            .ok_or(LoginError::Cancelled)?;
        callback.respond(PageOutcome::SignedOut);
        Ok(())
    }
}

/// Where to send the browser to end the provider's own session: RP-Initiated Logout when
/// discovery names an end-session endpoint, else Auth0's `/v2/logout`.
pub fn end_session_url(
    config: &Config,
    endpoint: Option<&Url>,
    id_token_hint: Option<&str>,
) -> Option<Url> {
    let mut url = match endpoint {
        Some(endpoint) => endpoint.clone(),
        None if config.is_auth0() => Url::parse(&config.issuer).ok()?.join("v2/logout").ok()?,
        None => return None,
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", &config.client_id);
        if let (Some(_), Some(hint)) = (endpoint, id_token_hint) {
            query.append_pair("id_token_hint", hint);
        }
    }
    Some(url)
}

/// A token endpoint error in words, without the response body (it may echo a token).
pub(crate) fn describe_token_error<
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
>(
    err: &RequestTokenError<RE, T>,
) -> String {
    match err {
        RequestTokenError::ServerResponse(response) => response.to_string(),
        RequestTokenError::Request(e) => error_chain(e),
        RequestTokenError::Parse(e, _) => {
            format!("unreadable answer from the token endpoint ({e})")
        }
        RequestTokenError::Other(e) => e.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> Config {
        Config {
            issuer: issuer.to_owned(),
            ..Config::dev_stack()
        }
    }

    #[test]
    fn end_session_uses_the_discovered_endpoint_with_the_id_token_hint() {
        let endpoint = Url::parse("https://idp.example.com/logout").unwrap();
        let url = end_session_url(
            &config("https://idp.example.com/"),
            Some(&endpoint),
            Some("HINT"),
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://idp.example.com/logout?client_id=latchkey-desktop&id_token_hint=HINT"
        );
    }

    #[test]
    fn auth0_without_end_session_falls_back_to_v2_logout() {
        let url =
            end_session_url(&config("https://tenant.eu.auth0.com/"), None, Some("HINT")).unwrap();
        assert_eq!(
            url.as_str(),
            "https://tenant.eu.auth0.com/v2/logout?client_id=latchkey-desktop"
        );
        assert_eq!(
            end_session_url(&config("https://idp.example.com/"), None, Some("HINT")),
            None
        );
    }
}
