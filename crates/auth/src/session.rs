//! The session: the one owner of the sign-in state, and the engine's public surface.
//!
//! The state is one enum behind one lock: signed out, stored (a refresh token read from the
//! vault and not yet redeemed, as after an offline start), or signed in (tokens in memory).
//! Each protocol step lives in its own module as an `impl Session` block: `login`, `device`,
//! `refresh`, `restore`, `logout`, `redirect`; every grant's answer is taken by `tokens`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openidconnect::core::CoreIdToken;
use openidconnect::{AccessToken, RefreshToken};
use tokio::sync::oneshot;
use url::Url;

use crate::accounts::AccountBook;
use crate::app::AppIdentity;
use crate::browser::{BrowserLauncher, SystemBrowser};
use crate::config::Config;
use crate::lock_unpoisoned;
use crate::login::SignInTimings;
use crate::loopback::WaitingLink;
use crate::profile::Profile;
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
    /// The key the tokens are DPoP-bound to (RFC 9449), if they are.
    pub(crate) dpop: Option<Arc<latchkey_dpop::ProofKey>>,
    /// The vault entry of the account these tokens are for.
    pub(crate) entry: Arc<str>,
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

/// Why a sign-in waiting for the browser stopped waiting.
pub(crate) enum Interrupt {
    Cancelled,
    Replaced,
}

/// Everything a session holds, shared by its clones: the configuration and identity, the
/// provider and vault handles, the one sign-in state, and the bookkeeping around them.
pub(crate) struct SessionParts {
    pub(crate) config: Config,
    pub(crate) app: AppIdentity,
    pub(crate) http: ProviderHttp,
    pub(crate) browser: Arc<dyn BrowserLauncher>,
    /// The active account's vault entry. Changed only with the flight lock held, so a
    /// redemption never reads one account's entry and writes another's.
    pub(crate) store: Mutex<SessionStore>,
    /// The entry an older version kept its one session in (`client@issuer`); every
    /// account's entry is named after it.
    pub(crate) base: SessionStore,
    /// Which accounts are kept, and which is active.
    pub(crate) book: Arc<AccountBook>,
    /// A session for one account only ([`Session::for_account`]): it never changes which
    /// account is active for the others.
    pub(crate) pinned: Option<String>,
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
    pub(crate) state: Mutex<State>,
    /// One redemption at a time in this process; [`crate::lock`] orders the processes.
    pub(crate) refresh_flight: tokio::sync::Mutex<()>,
    pub(crate) pending: Mutex<Option<oneshot::Sender<Interrupt>>>,
    /// The private-use URI redirect (RFC 8252 §7.1), when the front end can receive it.
    pub(crate) deep_link: OnceLock<Url>,
    pub(crate) waiting_link: Mutex<Option<WaitingLink>>,
    pub(crate) last_sign_in: Mutex<Option<SignInTimings>>,
    vault_problem: Mutex<Option<VaultError>>,
    /// Tokens signed out of whose revocation the provider has not confirmed.
    pub(crate) pending_revocations: AtomicUsize,
    /// Counts token generations, so a stale caller never mistakes a new session for its own.
    generations: AtomicU64,
    /// The first wait and the longest between reconnect attempts after an offline start.
    pub(crate) reconnect_backoff: (Duration, Duration),
    /// The latest DPoP nonce each server asked for.
    pub(crate) dpop_nonces: crate::dpop::ServerNonces,
}

/// What a session is made of before its state: given, or shared with the session a
/// [`Session::for_account`] session is made from.
struct Shared {
    config: Config,
    app: AppIdentity,
    http: ProviderHttp,
    browser: Arc<dyn BrowserLauncher>,
    store: SessionStore,
    base: SessionStore,
    book: Arc<AccountBook>,
    pinned: Option<String>,
}

impl SessionParts {
    fn new(shared: Shared, reconnect_backoff: (Duration, Duration)) -> Self {
        let Shared {
            config,
            app,
            http,
            browser,
            store,
            base,
            book,
            pinned,
        } = shared;
        Self {
            config,
            app,
            http,
            browser,
            store: Mutex::new(store),
            base,
            book,
            pinned,
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
            reconnect_backoff,
            dpop_nonces: Default::default(),
        }
    }
}

/// Makes a [`Session`]: [`Session::builder`], then the app's identity and browser.
#[must_use]
pub struct SessionBuilder {
    config: Config,
    app: AppIdentity,
    browser: Arc<dyn BrowserLauncher>,
    store: Option<SessionStore>,
    reconnect_backoff: (Duration, Duration),
}

impl SessionBuilder {
    /// Waits `first` before the first reconnect attempt after an offline start, doubling up
    /// to `max` (default: [`crate::RECONNECT_FIRST`], [`crate::RECONNECT_MAX`]).
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect_backoff = (first, max.max(first));
        self
    }

    /// The embedding app: its name on the browser pages, its vault service, lock directory
    /// and user agent.
    pub fn app(mut self, app: AppIdentity) -> Self {
        self.app = app;
        self
    }

    /// Opens sign-in pages with `browser` instead of the system browser.
    pub fn browser(mut self, browser: Arc<dyn BrowserLauncher>) -> Self {
        self.browser = browser;
        self
    }

    /// Keeps the session in `store` instead of the app's own entry for the configuration.
    pub fn store(mut self, store: SessionStore) -> Self {
        self.store = Some(store);
        self
    }

    /// The session.
    pub fn build(self) -> Session {
        let Self {
            config,
            app,
            browser,
            store,
            reconnect_backoff,
        } = self;
        let base =
            store.unwrap_or_else(|| SessionStore::for_app(&app, &config.issuer, &config.client_id));
        let book = Arc::new(AccountBook::new(
            app.data_dir(),
            app.lock_dir(),
            base.vault().service(),
            base.entry_name(),
        ));
        let http = ProviderHttp::new(app.user_agent(), latchkey_http::MAX_PROVIDER_ANSWER);
        let store = base.clone();
        Session {
            inner: Arc::new(SessionParts::new(
                Shared {
                    config,
                    app,
                    http,
                    browser,
                    store,
                    base,
                    book,
                    pinned: None,
                },
                reconnect_backoff,
            )),
        }
    }
}

/// The session. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionParts>,
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
    /// Latchkey's session for `config`, opening the system browser.
    pub fn new(config: Config) -> Self {
        Self::builder(config).build()
    }

    /// Latchkey's session for `config`, opening sign-in pages with `browser`.
    pub fn with_browser(config: Config, browser: Arc<dyn BrowserLauncher>) -> Self {
        Self::builder(config).browser(browser).build()
    }

    /// Latchkey's session whose vault entry is `store` (for tests of another platform's vault
    /// path).
    pub fn with_store(
        config: Config,
        browser: Arc<dyn BrowserLauncher>,
        store: SessionStore,
    ) -> Self {
        Self::builder(config).browser(browser).store(store).build()
    }

    /// A session for `config`, to be given the embedding app's identity, browser and vault
    /// entry; Latchkey's by default.
    pub fn builder(config: Config) -> SessionBuilder {
        SessionBuilder {
            config,
            app: AppIdentity::latchkey(),
            browser: Arc::new(SystemBrowser),
            store: None,
            reconnect_backoff: (crate::RECONNECT_FIRST, crate::RECONNECT_MAX),
        }
    }

    /// The embedding app's identity.
    pub fn app(&self) -> &AppIdentity {
        &self.inner.app
    }

    /// The configuration the session was made with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The file listing the accounts kept (no secret), if they are kept on disk: a front end
    /// watches it to follow another process's switch ([`Session::follow_accounts`]).
    pub fn accounts_file(&self) -> Option<&std::path::Path> {
        self.inner.book.path()
    }

    /// The vault entry of the account this session is on: the active account's once it has
    /// restored or signed in.
    pub fn store(&self) -> SessionStore {
        lock_unpoisoned(&self.inner.store).clone()
    }

    /// A session of the same app for the account kept in `entry` alone, beside this one: it
    /// signs in, refreshes, calls and signs out as that account, and never changes which
    /// account is active (`latchkey-cli call --account`, signing out of another account).
    pub fn for_account(&self, entry: &str) -> Session {
        let parts = &self.inner;
        let store = crate::accounts::store_for(&parts.base, entry);
        Session {
            inner: Arc::new(SessionParts::new(
                Shared {
                    config: parts.config.clone(),
                    app: parts.app.clone(),
                    http: parts.http.clone(),
                    browser: parts.browser.clone(),
                    store,
                    base: parts.base.clone(),
                    book: parts.book.clone(),
                    pinned: Some(entry.to_owned()),
                },
                parts.reconnect_backoff,
            )),
        }
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

    /// Whether someone is signed in, with tokens in memory.
    pub fn is_signed_in(&self) -> bool {
        matches!(*lock_unpoisoned(&self.inner.state), State::SignedIn(_))
    }

    /// The signed-in person's profile, if someone is signed in.
    pub fn profile(&self) -> Option<Profile> {
        match &*lock_unpoisoned(&self.inner.state) {
            State::SignedIn(tokens) => Some(tokens.profile.clone()),
            _ => None,
        }
    }

    /// A new DPoP key for a sign-in, when the configuration asks for DPoP or (unless it says
    /// no) the provider offers it.
    pub(crate) fn new_dpop_key(&self, provider: &Provider) -> Option<Arc<latchkey_dpop::ProofKey>> {
        self.inner
            .config
            .dpop
            .unwrap_or_else(|| provider.offers_dpop())
            .then(|| Arc::new(latchkey_dpop::ProofKey::generate()))
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
}
