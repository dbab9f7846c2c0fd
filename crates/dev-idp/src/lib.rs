//! Latchkey dev IdP: a small, strict OpenID Provider for local development and tests.
//!
//! **Not for production.** It binds loopback only, and keeps its users and RS256 signing
//! keys in a SQLite file when given one ([`Settings::data`]; the `dev-idp` binary's default is
//! in the user's data directory), else in memory; codes and tokens are always in memory. It exists so that Latchkey's whole sign-in flow runs on one
//! machine with no account anywhere, and so that tests can drive a real provider over HTTP.
//!
//! What it implements: discovery, JWKS (with key rotation), `/authorize` with a login form
//! (and a sign-up form for `screen_hint=signup`), PKCE S256 only, exact redirect URI matching
//! except that a registered loopback redirect accepts any port (RFC 8252 §7.3), single-use
//! short-lived codes, `/oauth/token` (authorization code; refresh token with rotation and
//! reuse detection that revokes the whole family), `/userinfo`, `/oauth/revoke` (RFC 7009)
//! and an RP-initiated logout endpoint.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let idp = latchkey_dev_idp::DevIdp::start(latchkey_dev_idp::Settings::default()).await?;
//! println!("issuer: {}", idp.issuer());
//! # Ok(()) }
//! ```
//!
//! (Over 400 lines: this is the provider's whole test-facing surface — settings, tamper modes,
//! counters and switches — which tests read in one place; each endpoint has its own module.)

mod authorize;
mod device;
mod grants;
mod keys;
mod management;
mod pages;
mod revoke;
mod store;
mod token;
mod userinfo;
pub mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

use keys::KeyRing;
use users::Directory;

pub use management::{MANAGEMENT_SCOPES, ManagementClient};
pub use users::{ADMIN_PERMISSION, DEMO_PASSWORD, User};

/// The client id of the Latchkey desktop app and CLI (a public, native client).
pub const DESKTOP_CLIENT_ID: &str = "latchkey-desktop";
/// The audience (API identifier) of the sample protected API.
pub const API_AUDIENCE: &str = "urn:latchkey:sample-api";
/// The port the dev stack's provider listens on by default.
pub const DEFAULT_PORT: u16 = 6080;

/// A client registration.
#[derive(Clone, Debug)]
pub struct ClientRegistration {
    pub client_id: String,
    pub name: String,
    /// Redirect URIs, matched exactly; a loopback one matches any port (RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    /// Whether a refresh returns a new refresh token and retires the old one (rotation with
    /// reuse detection, as Auth0 with rotation on), or keeps the one it was given (as Google,
    /// or Auth0 with rotation off: the response has no `refresh_token`).
    pub rotate_refresh_tokens: bool,
    /// Compare redirect URIs exactly, port included, as Auth0, Okta and dex do, instead of
    /// letting a registered loopback redirect take any port (RFC 8252 §7.3).
    pub exact_redirects: bool,
}

/// How the provider is set up.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where to listen; must be a loopback address.
    pub addr: SocketAddr,
    pub clients: Vec<ClientRegistration>,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    pub code_ttl: Duration,
    /// Random bytes in a refresh token (32 by default). Keycloak and Entra ID issue tokens of
    /// several KB; a test sets ~3,000 to send one that long through the vault.
    pub refresh_token_bytes: usize,
    /// How long a device code (RFC 8628) lives, and how often a device may poll.
    pub device_code_ttl: Duration,
    pub device_interval: Duration,
    /// Issue user codes without punctuation and match them exactly as issued, as
    /// django-oauth-toolkit does (RFC 8628 §6.1 lets a server ignore the punctuation it added;
    /// this one adds none and ignores nothing).
    pub device_codes_exact: bool,
    /// List `select_account` in `prompt_values_supported` (the sign-in page is the chooser);
    /// off, discovery lists only `login` and `consent`, as providers without a chooser do.
    pub account_chooser: bool,
    /// The confidential client that may use the management API (client credentials).
    pub management: Option<ManagementClient>,
    /// The SQLite file that keeps users and signing keys across restarts (created when
    /// missing); `None` keeps them in memory only, as tests want.
    pub data: Option<PathBuf>,
    /// Demand a server nonce in every DPoP proof at the token endpoint (RFC 9449 §8: a
    /// proof without the current one gets `use_dpop_nonce` and a `DPoP-Nonce` to retry with).
    pub dpop_nonces: bool,
}

/// The management client id the dev stack gives the sample API.
pub const MANAGEMENT_CLIENT_ID: &str = "latchkey-sample-api";

impl Settings {
    /// With a management client whose secret is made now (for the sample API's profile
    /// endpoints); returns the settings and that client.
    pub fn with_management(mut self) -> (Self, ManagementClient) {
        let client = ManagementClient {
            client_id: MANAGEMENT_CLIENT_ID.to_owned(),
            client_secret: random_token(32),
        };
        self.management = Some(client.clone());
        (self, client)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            clients: vec![ClientRegistration {
                client_id: DESKTOP_CLIENT_ID.to_owned(),
                name: "Latchkey".to_owned(),
                redirect_uris: vec![
                    "http://127.0.0.1/callback".to_owned(),
                    "dev.latchkey.desktop:/callback".to_owned(),
                ],
                rotate_refresh_tokens: true,
                exact_redirects: false,
            }],
            access_token_ttl: Duration::from_secs(600),
            id_token_ttl: Duration::from_secs(600),
            code_ttl: Duration::from_secs(60),
            refresh_token_bytes: 32,
            device_code_ttl: Duration::from_secs(600),
            device_interval: Duration::from_secs(5),
            device_codes_exact: false,
            account_chooser: true,
            management: None,
            data: None,
            dpop_nonces: false,
        }
    }
}

/// A deliberate misbehaviour, for tests that prove a client rejects what it must.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// The next ID token is signed by a key that is not in the JWKS, under the published `kid`.
    IdTokenBadSignature,
    /// The next ID token is unsigned (`alg: none`).
    IdTokenAlgNone,
    /// The next ID token names another issuer.
    IdTokenWrongIssuer,
    /// The next ID token is for another client.
    IdTokenWrongAudience,
    /// The next ID token expired ten minutes ago.
    IdTokenExpired,
    /// The next ID token carries another nonce than the one requested.
    IdTokenWrongNonce,
    /// The next authorization response carries another `iss` (RFC 9207 mix-up).
    ResponseWrongIss,
    /// The next authorization response carries no `iss` although discovery advertises it.
    ResponseWithoutIss,
    /// The next ID token carries no profile or email claims (as some providers send only
    /// `sub`): the client must ask `/userinfo`.
    IdTokenWithoutProfile,
    /// The next `/userinfo` answer is about another user (`sub` differs from the token's).
    UserinfoOtherSubject,
    /// The next ID token names another user (`sub`), as a mixed-up refresh would.
    IdTokenOtherSubject,
    /// The next ID token has a second, untrusted audience (with `azp` the client).
    IdTokenExtraAudience,
    /// The next ID token's `azp` (authorized party) is another client.
    IdTokenWrongAzp,
    /// The next ID token's `auth_time` is not the original authentication's.
    IdTokenOtherAuthTime,
    /// The next device authorization answer has no `user_code`.
    DeviceAnswerWithoutUserCode,
    /// The next device authorization answer says `interval: 0`.
    DeviceIntervalZero,
    /// The next device authorization answer has an absurd `interval`.
    DeviceIntervalHuge,
    /// The next device authorization answer has an absurd `expires_in`.
    DeviceExpiresHuge,
    /// The next device authorization answer advertises a 1 s interval, shorter than the one
    /// the provider enforces, so the device's second poll gets `slow_down`.
    DeviceIntervalTooShort,
    /// The next refresh is refused with this OpenID Connect error (`login_required`,
    /// `interaction_required` or `consent_required`), as a provider whose policy now asks the
    /// person to sign in again (a new factor, new terms, a consent withdrawn).
    RefreshNeedsSignIn(&'static str),
    /// The next token answer carries no ID token, as a plain OAuth 2.0 grant does
    /// (django-oauth-toolkit's device grant).
    TokenWithoutIdToken,
    /// The next token answer's `access_token` is empty.
    EmptyAccessToken,
    /// The next token answer's `access_token` is 100 KB long.
    HugeAccessToken,
    /// The next token answer's `token_type` is this instead of `Bearer`.
    TokenType(&'static str),
}

/// A point where the provider holds its answer, for tests that kill a client there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
    /// A refresh is granted — the presented token retired, its successor issued — and the
    /// answer is held: the client has not received the new token yet.
    RefreshAnswer,
    /// `/userinfo` answers are held: a client that asks it after a refresh has the new
    /// tokens in memory and not yet in its vault.
    Userinfo,
}

/// How long a stalled answer is held before it is sent after all.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// What the provider has been asked, for tests that count requests.
#[derive(Debug, Default)]
pub struct Counters {
    pub code_grants: AtomicUsize,
    pub refresh_grants: AtomicUsize,
    pub revocations: AtomicUsize,
    pub jwks_fetches: AtomicUsize,
    /// Refresh tokens presented again after they were rotated (each revoked its family).
    pub refresh_reuse: AtomicUsize,
    /// Device polls answered `slow_down` (RFC 8628 §3.5).
    pub device_slow_downs: AtomicUsize,
    /// Device polls, whatever the answer.
    pub device_polls: AtomicUsize,
    /// Token requests answered 503 while [`DevIdp::set_unavailable`] was set.
    pub unavailable_answers: AtomicUsize,
    /// Token requests with a DPoP proof that passed.
    pub dpop_proofs: AtomicUsize,
    /// DPoP proofs refused for lacking the current nonce (`use_dpop_nonce`).
    pub dpop_nonce_challenges: AtomicUsize,
    /// Refreshes of a DPoP-bound refresh token without a proof by its key (a stolen copy).
    pub dpop_key_mismatches: AtomicUsize,
}

pub(crate) struct Provider {
    issuer: String,
    settings: Settings,
    keys: RwLock<KeyRing>,
    directory: Mutex<Directory>,
    authorize: authorize::PendingRequests,
    grants: grants::Grants,
    devices: device::DeviceGrants,
    tamper: Mutex<Vec<Tamper>>,
    unavailable: AtomicBool,
    revocation_unavailable: AtomicBool,
    counters: Counters,
    stall: Mutex<Option<Stall>>,
    stalled: tokio::sync::Notify,
    /// The query strings of `GET /api/v2/users`, for tests of what a caller asked.
    user_queries: Mutex<Vec<String>>,
    /// Every RP-initiated logout, in order.
    ended_sessions: Mutex<Vec<EndedSession>>,
    /// The `prompt` of every authorization request, in order (`None` when it had none).
    prompts: Mutex<Vec<Option<String>>>,
    /// DPoP proofs seen at the token endpoint (a replayed one is refused).
    dpop_replays: latchkey_dpop::ReplayCache,
    /// The token endpoint's DPoP nonces, when [`Settings::dpop_nonces`] asks for them.
    dpop_nonces: latchkey_dpop::Nonces,
}

/// An RP-initiated logout the dev IdP answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSession {
    /// The `sub` of the `id_token_hint`, when one came and this provider had signed it.
    pub hinted_sub: Option<String>,
    /// The browser was sent back to a registered `post_logout_redirect_uri`.
    pub returned: bool,
}

impl Provider {
    /// The user whose `sub` this is, as the directory holds them now.
    fn user(&self, sub: &str) -> Option<User> {
        self.directory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_sub(sub)
    }

    /// Holds the answer here if a test stalled the provider at `point`, saying so first.
    async fn stall_at(&self, point: Stall) {
        let armed = *self.stall.lock().unwrap_or_else(PoisonError::into_inner) == Some(point);
        if armed {
            self.stalled.notify_one();
            tokio::time::sleep(STALL_LIMIT).await;
        }
    }

    /// The claims of the request's own bearer token, when it is one this provider signed.
    fn bearer_claims<T: serde::de::DeserializeOwned>(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Option<T> {
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        self.verify(token)
    }

    /// The claims of a token this provider signed (with a key it still publishes).
    fn verify<T: serde::de::DeserializeOwned>(&self, token: &str) -> Option<T> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .verify::<T>(token, &self.issuer)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path.trim_start_matches('/'))
    }

    fn client(&self, client_id: &str) -> Option<&ClientRegistration> {
        self.settings
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
    }

    /// Takes a pending tamper of `kind`, if a test armed one.
    /// The armed refusal of the next refresh, if any.
    fn take_refresh_refusal(&self) -> Option<Tamper> {
        let mut armed = self.tamper.lock().unwrap_or_else(PoisonError::into_inner);
        let pos = armed
            .iter()
            .position(|t| matches!(t, Tamper::RefreshNeedsSignIn(_)))?;
        Some(armed.remove(pos))
    }

    fn take_tamper(&self, wanted: &[Tamper]) -> Option<Tamper> {
        self.take_tamper_where(|t| wanted.contains(t))
    }

    /// The first armed misbehaviour `wanted` picks, disarmed.
    fn take_tamper_where(&self, wanted: impl Fn(&Tamper) -> bool) -> Option<Tamper> {
        let mut armed = self.tamper.lock().unwrap_or_else(PoisonError::into_inner);
        let pos = armed.iter().position(wanted)?;
        Some(armed.remove(pos))
    }
}

/// A running dev IdP.
pub struct DevIdp {
    provider: Arc<Provider>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Writes to the data file, when there is one.
    writer: Option<store::Writer>,
}

impl DevIdp {
    /// Binds `settings.addr` (loopback only) and serves until dropped or stopped.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        anyhow::ensure!(
            settings.addr.ip().is_loopback(),
            "the dev IdP binds loopback addresses only (asked for {})",
            settings.addr
        );
        let listener = TcpListener::bind(settings.addr).await?;
        let addr = listener.local_addr()?;
        let host = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let issuer = format!("http://{host}:{}/", addr.port());
        let (keys, directory, writer) = match &settings.data {
            Some(path) => {
                let store = store::Store::open(path).await?;
                let users = store.users().await.map_err(|e| {
                    anyhow::anyhow!("the users in {} do not read: {e}", store.path().display())
                })?;
                let stored = store.keys().await.map_err(|e| {
                    anyhow::anyhow!("the keys in {} do not read: {e}", store.path().display())
                })?;
                let writer = store.writer();
                let for_keys = writer.clone();
                let keys =
                    tokio::task::spawn_blocking(move || KeyRing::load(&stored, Some(for_keys)))
                        .await??;
                let directory = tokio::task::spawn_blocking({
                    let writer = writer.clone();
                    move || Directory::load(users, Some(writer))
                })
                .await?;
                (keys, directory, Some(writer))
            }
            None => (
                tokio::task::spawn_blocking(KeyRing::generate).await??,
                tokio::task::spawn_blocking(Directory::with_demo_users).await?,
                None,
            ),
        };
        let provider = Arc::new(Provider {
            issuer,
            settings,
            keys: RwLock::new(keys),
            directory: Mutex::new(directory),
            authorize: Default::default(),
            grants: Default::default(),
            devices: Default::default(),
            tamper: Mutex::new(Vec::new()),
            unavailable: AtomicBool::new(false),
            revocation_unavailable: AtomicBool::new(false),
            counters: Counters::default(),
            stall: Mutex::new(None),
            stalled: tokio::sync::Notify::new(),
            user_queries: Mutex::new(Vec::new()),
            ended_sessions: Mutex::new(Vec::new()),
            prompts: Mutex::new(Vec::new()),
            dpop_replays: latchkey_dpop::ReplayCache::new(100_000),
            dpop_nonces: latchkey_dpop::Nonces::new(300, latchkey_dpop::unix_now()),
        });
        let mut idp = Self {
            provider,
            addr,
            shutdown: None,
            task: None,
            writer,
        };
        idp.serve(listener);
        Ok(idp)
    }

    fn serve(&mut self, listener: TcpListener) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(self.provider.clone());
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!("dev IdP stopped: {err}");
            }
        });
        self.shutdown = Some(tx);
        self.task = Some(task);
    }

    /// Stops listening, as a provider that cannot be reached (connections are refused), but
    /// keeps every grant, user and key for [`DevIdp::resume`].
    pub async fn suspend(&mut self) {
        self.stop_inner().await;
    }

    /// Listens again on the same address, with everything it knew.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        if self.task.is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }

    /// The issuer identifier, with its trailing slash (as Auth0 writes it).
    pub fn issuer(&self) -> &str {
        &self.provider.issuer
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn counters(&self) -> &Counters {
        &self.provider.counters
    }

    /// Makes a fresh signing key current; returns its `kid`.
    pub fn rotate_keys(&self) -> anyhow::Result<String> {
        self.provider
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .rotate()
    }

    /// Signs arbitrary claims with the current published key, for tests that need a token
    /// whose signature verifies but whose claims are wrong.
    pub fn sign_claims(&self, claims: &serde_json::Value) -> anyhow::Result<String> {
        self.provider
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .current()
            .sign(claims, "at+jwt")
    }

    /// A valid five-minute access token for the user `username` and `audience`, as a client
    /// would hold after signing in, with the user's permissions (for tests that call an API
    /// directly).
    pub fn access_token(&self, username: &str, audience: &str) -> anyhow::Result<String> {
        let now = now_secs();
        let permissions = self
            .user(username)
            .map(|user| user.permissions)
            .unwrap_or_default();
        self.sign_claims(&json!({
            "iss": self.provider.issuer,
            "sub": format!("dev-idp|{username}"),
            "aud": [audience],
            "iat": now,
            "exp": now + 300,
            "permissions": permissions,
        }))
    }

    /// Arms one misbehaviour for the next matching response.
    pub fn tamper(&self, tamper: Tamper) {
        self.provider
            .tamper
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tamper);
    }

    /// The `prompt` parameter of each authorization request, oldest first.
    pub fn prompts(&self) -> Vec<Option<String>> {
        self.provider
            .prompts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The RP-initiated logouts answered, oldest first.
    pub fn ended_sessions(&self) -> Vec<EndedSession> {
        self.provider
            .ended_sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The query strings `GET /api/v2/users` was called with, oldest first.
    pub fn user_queries(&self) -> Vec<String> {
        self.provider
            .user_queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Holds every answer at `point` (`None`: holds nothing), as a provider that hangs there.
    pub fn stall(&self, point: Option<Stall>) {
        *self
            .provider
            .stall
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = point;
    }

    /// Waits until a request reached the stall point.
    pub async fn stalled(&self) {
        self.provider.stalled.notified().await;
    }

    /// While set, the token endpoint answers 503, as a provider in an outage does.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.provider
            .unavailable
            .store(unavailable, Ordering::SeqCst);
    }

    /// While set, the revocation endpoint answers 503: the token is not revoked (RFC 7009
    /// §2.2.1), and the client must try again.
    pub fn set_revocation_unavailable(&self, unavailable: bool) {
        self.provider
            .revocation_unavailable
            .store(unavailable, Ordering::SeqCst);
    }

    /// Signs `username` up as the sign-up form would (for tests that need more users than
    /// the demo ones: a list long enough to page through).
    pub fn sign_up(&self, username: &str, password: &str, name: &str) -> anyhow::Result<User> {
        self.provider
            .directory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sign_up(username, password, name)
            .map_err(|refusal| anyhow::anyhow!(refusal.message()))
    }

    /// Adds a user who signs in with the demo users' password, as they do (for tests that
    /// need more people than the demo ones, signing in through the scripted browser).
    pub fn add_demo_user(&self, username: &str, name: &str) -> anyhow::Result<User> {
        let mut directory = self
            .provider
            .directory
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let user = directory
            .sign_up(username, "placeholder-1", name)
            .map_err(|refusal| anyhow::anyhow!(refusal.message()))?;
        directory
            .update(&user.sub, |u| {
                u.password_hash = users::hash_password(DEMO_PASSWORD);
            })
            .ok_or_else(|| anyhow::anyhow!("{username} was not kept"))
    }

    /// A user as the directory has them now (for tests of the management API).
    pub fn user(&self, username: &str) -> Option<User> {
        self.provider
            .directory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_username(username)
    }

    /// The management API's audience (`{issuer}api/v2/`).
    pub fn management_audience(&self) -> String {
        self.provider.management_audience()
    }

    /// How many refresh tokens the token endpoint would accept now (for tests that cannot
    /// see the token itself, such as a Windows program's under Wine).
    pub fn active_refresh_tokens(&self) -> usize {
        self.provider.grants.active_count()
    }

    /// The refresh tokens this provider issued (the latest 4096), used and revoked ones too:
    /// for tests that prove none reached a place it must not, such as a web view.
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.provider.grants.issued_refresh_tokens()
    }

    /// Whether `refresh_token` would still be accepted by the token endpoint.
    pub fn refresh_token_is_active(&self, refresh_token: &str) -> bool {
        self.provider.grants.is_active(refresh_token)
    }

    /// Stops serving and waits until the port is closed and every change is in the data file.
    pub async fn stop(mut self) {
        self.stop_inner().await;
        if let Some(writer) = &self.writer {
            writer.flush().await;
        }
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DevIdp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(provider: Arc<Provider>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/authorize", get(authorize::authorize))
        .route("/login", post(authorize::login))
        .route("/signup", post(authorize::signup))
        .route("/oauth/token", post(token::token))
        .route("/oauth/revoke", post(revoke::revoke))
        .route("/oauth/device/code", post(device::device_code))
        .route(
            "/activate",
            get(device::activate_page).post(device::activate),
        )
        .route("/userinfo", get(userinfo::userinfo))
        .route("/oidc/logout", get(authorize::end_session))
        .route("/api/v2/users", get(management::list_users))
        .route(
            "/api/v2/users/{id}",
            get(management::get_user).patch(management::patch_user),
        )
        .route("/avatars/{username}", get(avatar))
        .route("/operator/rotate-keys", post(rotate_keys))
        .with_state(provider)
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<serde_json::Value> {
    Json(json!({
        "issuer": p.issuer,
        "authorization_endpoint": p.url("authorize"),
        "token_endpoint": p.url("oauth/token"),
        "userinfo_endpoint": p.url("userinfo"),
        "jwks_uri": p.url(".well-known/jwks.json"),
        "revocation_endpoint": p.url("oauth/revoke"),
        "device_authorization_endpoint": p.url("oauth/device/code"),
        "end_session_endpoint": p.url("oidc/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", device::DEVICE_GRANT],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": latchkey_dpop::ALGORITHM_NAMES.split(' ').collect::<Vec<_>>(),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "nickname", "picture", "email", "email_verified"],
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": if p.settings.account_chooser {
            json!(["login", "consent", "select_account"])
        } else {
            json!(["login", "consent"])
        },
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> Json<serde_json::Value> {
    p.counters.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json(p.keys.read().unwrap_or_else(PoisonError::into_inner).jwks())
}

async fn rotate_keys(State(p): State<Arc<Provider>>) -> Response {
    let rotated = p
        .keys
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .rotate();
    match rotated {
        Ok(kid) => Json(json!({ "kid": kid })).into_response(),
        Err(err) => {
            tracing::error!("key rotation failed: {err}");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn avatar(Path(file): Path<String>) -> Response {
    let username = file.trim_end_matches(".svg");
    let initials: String = username
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .collect();
    let hue = username
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
        % 360;
    pages::avatar_svg(&initials, hue)
}

/// A random URL-safe string from the OS CSPRNG (for secrets a test or the dev stack makes).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Expired entries are dropped when a map is touched, so memory stays bounded.
pub(crate) fn prune<K, V>(map: &mut HashMap<K, V>, alive: impl Fn(&V) -> bool) {
    map.retain(|_, v| alive(v));
}
