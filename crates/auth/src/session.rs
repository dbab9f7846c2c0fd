//! The session: the one owner of the sign-in state, and the engine's public surface.
//!
//! The state is one enum behind one lock: signed out, stored (a refresh token read from the
//! vault and not yet redeemed, as after an offline start), or signed in (tokens in memory).
//! Each protocol step lives in its own module as an `impl Session` block: `login` (this file
//! orchestrates it), `refresh`, `restore`, `logout`, `redirect`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openidconnect::core::CoreIdToken;
use openidconnect::{AccessToken, RefreshToken};
use tokio::sync::oneshot;
use url::Url;

use crate::browser::{BrowserLauncher, SystemBrowser};
use crate::config::{Config, RedirectMode};
use crate::lock_unpoisoned;
use crate::login::{self, LoginError, LoginOptions, SignInTimings};
use crate::loopback::{Answer, LoopbackListener, WaitingLink};
use crate::profile::{self, Profile};
use crate::provider::{DiscoveryError, Provider};
use crate::store::{Binding, SessionStore, StoredSession};
use crate::vault::VaultError;
use latchkey_http::ProviderHttp;

/// A token is refreshed this long before it expires (or at half its lifetime, if shorter).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// The tokens of a signed-in session. Only the shell's memory holds them.
pub(crate) struct Tokens {
    pub(crate) access: AccessToken,
    /// When the access token should be renewed; `None` if the provider gave no lifetime.
    pub(crate) renew_at: Option<Instant>,
    pub(crate) refresh: Option<RefreshToken>,
    pub(crate) id_token: Option<CoreIdToken>,
    pub(crate) profile: Profile,
    pub(crate) binding: Binding,
    /// Whether the refresh token reached the vault; if not, the session lives in memory only.
    pub(crate) persisted: bool,
    pub(crate) generation: u64,
}

/// Where the session stands. There is one per session, so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum State {
    SignedOut,
    /// Read from the vault but not redeemed yet (the provider was unreachable).
    Stored(StoredSession),
    SignedIn(Tokens),
}

enum Interrupt {
    Cancelled,
    Replaced,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) http: ProviderHttp,
    pub(crate) browser: Arc<dyn BrowserLauncher>,
    pub(crate) store: SessionStore,
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
    pub(crate) state: Mutex<State>,
    /// One redemption at a time in this process; [`crate::lock`] orders the processes.
    pub(crate) refresh_flight: tokio::sync::Mutex<()>,
    pending: Mutex<Option<oneshot::Sender<Interrupt>>>,
    /// The private-use URI redirect (RFC 8252 §7.1), when the front end can receive it.
    pub(crate) deep_link: OnceLock<Url>,
    pub(crate) waiting_link: Mutex<Option<WaitingLink>>,
    last_sign_in: Mutex<Option<SignInTimings>>,
    vault_problem: Mutex<Option<VaultError>>,
    /// Tokens signed out of whose revocation the provider has not confirmed.
    pub(crate) pending_revocations: AtomicUsize,
    /// Counts token generations, so a stale caller never mistakes a new session for its own.
    generations: AtomicU64,
}

/// The session. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("issuer", &self.inner.config.issuer)
            .field("signed_in", &self.is_signed_in())
            .finish()
    }
}

impl Session {
    /// A session that opens the system browser.
    pub fn new(config: Config) -> Self {
        Self::with_browser(config, Arc::new(SystemBrowser))
    }

    pub fn with_browser(config: Config, browser: Arc<dyn BrowserLauncher>) -> Self {
        let store = SessionStore::for_client(&config.issuer, &config.client_id);
        Self::with_store(config, browser, store)
    }

    /// A session whose vault entry is `store` (for tests of another platform's vault path).
    pub fn with_store(
        config: Config,
        browser: Arc<dyn BrowserLauncher>,
        store: SessionStore,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                http: ProviderHttp::default(),
                browser,
                store,
                provider: tokio::sync::Mutex::new(None),
                state: Mutex::new(State::SignedOut),
                refresh_flight: tokio::sync::Mutex::new(()),
                pending: Mutex::new(None),
                deep_link: OnceLock::new(),
                waiting_link: Mutex::new(None),
                last_sign_in: Mutex::new(None),
                vault_problem: Mutex::new(None),
                pending_revocations: AtomicUsize::new(0),
                generations: AtomicU64::new(0),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The vault entry this session keeps its refresh token in.
    pub fn store(&self) -> &SessionStore {
        &self.inner.store
    }

    /// Where the time went in the last completed sign-in (for `cargo xtask bench`).
    pub fn last_sign_in_timings(&self) -> Option<SignInTimings> {
        *lock_unpoisoned(&self.inner.last_sign_in)
    }

    /// The last vault problem, if the vault is failing: the session then lives in memory only.
    pub fn vault_problem(&self) -> Option<VaultError> {
        lock_unpoisoned(&self.inner.vault_problem).clone()
    }

    pub(crate) fn note_vault_result<T>(&self, result: &Result<T, VaultError>) {
        let mut problem = lock_unpoisoned(&self.inner.vault_problem);
        match result {
            Ok(_) => *problem = None,
            Err(err) => {
                tracing::warn!("{err}");
                *problem = Some(err.clone());
            }
        }
    }

    pub(crate) fn next_generation(&self) -> u64 {
        self.inner.generations.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// How many signed-out tokens wait for the provider to confirm their revocation.
    pub fn pending_revocations(&self) -> usize {
        self.inner.pending_revocations.load(Ordering::Relaxed)
    }

    pub fn is_signed_in(&self) -> bool {
        matches!(*lock_unpoisoned(&self.inner.state), State::SignedIn(_))
    }

    pub fn profile(&self) -> Option<Profile> {
        match &*lock_unpoisoned(&self.inner.state) {
            State::SignedIn(tokens) => Some(tokens.profile.clone()),
            _ => None,
        }
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
                    login::authorization(&provider, config, redirect.to_string(), &options)?;
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
                    .map_err(LoginError::Listener)?;
                let authorization =
                    login::authorization(&provider, config, listener.redirect_uri(), &options)?;
                let server = listener.serve(authorization.csrf.secret().clone());
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
        tracing::debug!("authorization code exchanged; the ID token is valid");
        lock_unpoisoned(&self.inner.pending).take();
        let asking = Instant::now();
        let userinfo = profile::userinfo(
            &provider,
            &self.inner.http,
            response_access(&response),
            &claims,
        )
        .await;
        timings.userinfo = asking.elapsed();
        let storing = Instant::now();
        let binding = Binding::from_claims(&claims, &self.inner.config.client_id);
        let profile = Profile::from_claims(&claims, userinfo.as_ref());
        let profile = self
            .sign_in_with(response, binding, profile)
            .await
            .map_err(|e| LoginError::Exchange(e.to_string()))?;
        timings.vault_write = storing.elapsed();
        timings.total = arrived.elapsed();
        *lock_unpoisoned(&self.inner.last_sign_in) = Some(timings);
        Ok(profile)
    }
}

fn response_access(response: &openidconnect::core::CoreTokenResponse) -> &AccessToken {
    openidconnect::OAuth2TokenResponse::access_token(response)
}
