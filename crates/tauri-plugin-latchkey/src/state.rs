//! The plugin's one piece of state: the session, and the view the web view was last told.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use latchkey_auth::{
    ApiClient, ApiError, AppIdentity, BrowserLauncher, Config, ConfigError, LoginError,
    LoginOptions, Profile, Restored, Session, SessionError, advice,
};
use latchkey_ipc::{
    AccountView, ApiRequest, ApiResult, ProfileView, ProviderSession, SESSION_CHANGED, SessionView,
};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use url::Url;

use crate::{Error, Result, Source};

/// Where a person's configuration names the plugin's section in tauri.conf.json.
const TAURI_CONF_ORIGIN: &str = "tauri.conf.json > plugins > latchkey";

/// The largest JSON body the web view may send to the API through [`Latchkey::call_api`].
pub const MAX_API_BODY: usize = 1024 * 1024;

/// How long the browser may take to come back from the provider's end-session page.
/// How often the record of accounts is looked at for another process's switch.
const ACCOUNTS_POLL: Duration = Duration::from_secs(1);

const END_SESSION_TIMEOUT: Duration = Duration::from_secs(300);

/// What the signed-out view says while the provider has not confirmed the revocation.
const REVOCATION_PENDING: &str = "Signed out here. Your provider has not confirmed yet that the session is revoked; it is asked again until it does.";

/// Locks `mutex`, taking the data as it is if a panicking thread poisoned it: each value behind
/// these locks is whole after every assignment.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The configuration in tauri.conf.json, validated.
pub(crate) fn from_tauri_conf(value: Option<&serde_json::Value>) -> Result<Config> {
    let value = value.filter(|v| !v.is_null()).ok_or(Error::NoConfig)?;
    Ok(Config::parse(&value.to_string(), TAURI_CONF_ORIGIN)?)
}

pub(crate) struct Options {
    pub source: Source,
    pub identity: AppIdentity,
    pub browser: Option<Arc<dyn BrowserLauncher>>,
    pub deep_link: Option<Url>,
    pub setup_example: String,
    pub reconnect_backoff: Option<(Duration, Duration)>,
}

/// The session the plugin keeps for the app; reach it with [`crate::LatchkeyExt::latchkey`].
///
/// Everything the web view's commands do is here for the app's Rust code too, plus what the
/// web view never gets: the [`Session`] and an [`ApiClient`] that attaches the bearer.
pub struct Latchkey<R: Runtime> {
    app: AppHandle<R>,
    options: Options,
    /// `Err` holds why there is no usable configuration. Replaced by [`Latchkey::reload_config`].
    engine: Mutex<std::result::Result<Engine, Setup>>,
    view: Mutex<SessionView>,
    /// After a log-out: the provider's end-session URL. It holds the ID token as
    /// `id_token_hint`, so it stays here and goes only to the system browser.
    end_session: Mutex<Option<Url>>,
    /// "Retry now" in the offline view wakes the reconnecting session.
    retry_now: Arc<tokio::sync::Notify>,
    /// The device sign-in in progress, which a cancel (or a new sign-in) ends.
    device: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

/// The signed-in machinery for one configuration.
#[derive(Clone)]
struct Engine {
    session: Session,
    api: ApiClient,
}

/// What the person must fix before anyone can sign in.
#[derive(Clone)]
struct Setup {
    config_path: String,
    problem: Option<String>,
    /// The `loopbackPorts` of the file that is there, when it names some.
    ports_in_file: Option<Vec<u16>>,
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            Some(problem) => f.write_str(problem),
            None => write!(
                f,
                "no sign-in provider is configured in {}",
                self.config_path
            ),
        }
    }
}

impl<R: Runtime> Latchkey<R> {
    pub(crate) fn new(app: AppHandle<R>, options: Options) -> Self {
        let engine = load_engine(&options);
        Self {
            app,
            options,
            engine: Mutex::new(engine),
            view: Mutex::new(SessionView::Loading),
            end_session: Mutex::new(None),
            retry_now: Arc::new(tokio::sync::Notify::new()),
            device: Mutex::new(None),
        }
    }

    /// The session as the window should show it now.
    pub fn view(&self) -> SessionView {
        lock(&self.view).clone()
    }

    /// The session, for the app's own Rust code (`access_token`, `profile`, …).
    pub fn session(&self) -> Result<Session> {
        self.engine().map(|engine| engine.session)
    }

    /// A client for the configured API: it attaches the bearer (refreshed when needed) to
    /// requests under `apiUrl`, and to nothing else.
    pub fn api(&self) -> Result<ApiClient> {
        self.engine().map(|engine| engine.api)
    }

    fn engine(&self) -> Result<Engine> {
        lock(&self.engine)
            .clone()
            .map_err(|setup| Error::NotConfigured(sentence(&setup.to_string())))
    }

    /// Records the new view and pushes it to the web view as [`SESSION_CHANGED`].
    pub fn publish(&self, view: SessionView) {
        *lock(&self.view) = view.clone();
        if let Err(err) = self.app.emit(SESSION_CHANGED, &view) {
            tracing::warn!("could not push the session view: {err}");
        }
    }

    /// An API call's failure as the error a command returns; when the session ended on the
    /// way (the provider refused the refresh), the window is told so first.
    pub fn api_error(&self, err: ApiError) -> Error {
        if let ApiError::Session(err) = &err
            && err.ended_the_session()
        {
            self.publish(signed_out_after(err));
        }
        Error::Failed(err.to_string())
    }

    /// Renews the tokens so the profile shows what the provider says now (after the app
    /// changed it there), and tells the window.
    pub async fn reload_profile(&self) -> Result<Profile> {
        let profile = self.session()?.reload_profile().await.map_err(|e| {
            if e.ended_the_session() {
                self.publish(signed_out_after(&e));
            }
            Error::Failed(e.to_string())
        })?;
        self.publish(signed_in(&profile));
        Ok(profile)
    }

    /// Starts a sign-in in the system browser; its progress arrives as session views.
    pub fn login(&self, options: LoginOptions) -> Result<()> {
        let session = self.session()?;
        if let Some(device) = lock(&self.device).take() {
            device.abort();
        }
        let signup = options.signup;
        let app = self.app.clone();
        tauri::async_runtime::spawn(async move {
            let latchkey = app.latchkey_state();
            let result = session
                .login(options, |url| {
                    latchkey.publish(SessionView::WaitingForBrowser {
                        sign_in_url: url.to_string(),
                        signup,
                        refused: None,
                    });
                })
                .await;
            match result {
                Ok(profile) => {
                    latchkey.publish(signed_in(&profile));
                    bring_to_front(&app);
                }
                // A newer sign-in owns the view now.
                Err(LoginError::Replaced) => {}
                Err(LoginError::Cancelled) => latchkey.publish(signed_out(None)),
                Err(err) => {
                    latchkey.publish(signed_out(Some(err.to_string())));
                    bring_to_front(&app);
                }
            }
        });
        Ok(())
    }

    /// Starts a device sign-in (RFC 8628): the view shows the code to enter at the provider,
    /// on this device or another, and becomes signed in when the person approves.
    pub fn device_login(&self) -> Result<()> {
        let session = self.session()?;
        session.cancel_login();
        let app = self.app.clone();
        let task = tauri::async_runtime::spawn(async move {
            let latchkey = app.latchkey_state();
            let result = session
                .login_device(|code| {
                    latchkey.publish(SessionView::WaitingForDevice {
                        verification_uri: code.verification_uri.to_string(),
                        verification_uri_complete: code.verification_uri_complete.clone(),
                        user_code: code.user_code.clone(),
                        expires_in_secs: code.expires_in.as_secs(),
                    });
                })
                .await;
            match result {
                Ok(profile) => latchkey.publish(signed_in(&profile)),
                Err(err) => latchkey.publish(signed_out(Some(err.to_string()))),
            }
        });
        if let Some(earlier) = lock(&self.device).replace(task) {
            earlier.abort();
        }
        Ok(())
    }

    /// Stops waiting for the browser, or for the device sign-in's approval.
    pub fn cancel_login(&self) -> Result<()> {
        self.session()?.cancel_login();
        if let Some(device) = lock(&self.device).take() {
            device.abort();
            if matches!(self.view(), SessionView::WaitingForDevice { .. }) {
                self.publish(signed_out(None));
            }
        }
        Ok(())
    }

    /// Signs out of the active account here: its tokens are forgotten, its vault entry
    /// deleted, its refresh token revoked (retried in the background until the provider
    /// confirms). Another account kept becomes the active one and is restored.
    pub async fn logout(&self) -> Result<()> {
        let session = self.session()?;
        let outcome = session.logout().await;
        self.signed_out_with(session, outcome).await;
        Ok(())
    }

    /// Signs out of the account `id`; signing out of the active one is [`Self::logout`].
    pub async fn logout_account(&self, id: &str) -> Result<()> {
        let session = self.session()?;
        if session.store().entry_name() == id {
            return self.logout().await;
        }
        let outcome = session.logout_account(id).await;
        if outcome.revocation_pending {
            let other = session.for_account(id);
            tauri::async_runtime::spawn(async move { other.keep_revoking().await });
        }
        if let Some(err) = outcome.vault_error {
            return Err(Error::Failed(sentence(&err.to_string())));
        }
        Ok(())
    }

    /// Signs out of every account kept.
    pub async fn logout_all(&self) -> Result<()> {
        let session = self.session()?;
        let outcome = session.logout_all().await;
        self.signed_out_with(session, outcome).await;
        Ok(())
    }

    /// The view after a sign-out: the next account, restored, when one is kept; else
    /// signed out, saying what is still waiting at the provider.
    async fn signed_out_with(&self, session: Session, outcome: latchkey_auth::LogoutOutcome) {
        let message = match (&outcome.vault_error, outcome.revocation_pending) {
            (Some(err), _) => Some(format!("Signed out, but {err}")),
            (None, true) => Some(REVOCATION_PENDING.to_owned()),
            (None, false) => None,
        };
        if outcome.revocation_pending {
            let app = self.app.clone();
            let session = session.clone();
            tauri::async_runtime::spawn(async move {
                session.keep_revoking().await;
                app.latchkey_state().revocation_confirmed();
            });
        }
        let next = session.accounts().await.ok().and_then(|l| l.active);
        if next.is_some() {
            *lock(&self.end_session) = None;
            self.restore().await;
            return;
        }
        let provider_session = match &outcome.end_session_url {
            Some(_) => ProviderSession::MayBeSignedIn,
            None => ProviderSession::Unknown,
        };
        *lock(&self.end_session) = outcome.end_session_url;
        self.publish(SessionView::SignedOut {
            message,
            provider_session,
            ended: None,
        });
    }

    /// The accounts kept, the active one marked; never a token.
    pub async fn accounts(&self) -> Result<Vec<AccountView>> {
        let session = self.session()?;
        let list = session
            .accounts()
            .await
            .map_err(|e| Error::Failed(sentence(&e.to_string())))?;
        Ok(list
            .accounts
            .iter()
            .map(|account| AccountView {
                id: account.entry.clone(),
                name: account.label().to_owned(),
                email: account.email.clone(),
                picture: account.picture.clone(),
                active: list.active.as_deref() == Some(account.entry.as_str()),
                sign_in_again: account.sign_in_again,
            })
            .collect())
    }

    /// Makes the account `id` the active one, from its own refresh token: no browser. When
    /// that account needs a sign-in, or the provider cannot be reached, the account in use
    /// stays, and the error says which it was.
    pub async fn switch_account(&self, id: &str) -> Result<()> {
        let session = self.session()?;
        let profile = session
            .switch_account(id)
            .await
            .map_err(|e| Error::Failed(sentence(&e.to_string())))?;
        self.publish(signed_in(&profile));
        Ok(())
    }

    /// Follows a switch, an added account or a sign-out another process of this app made
    /// (the CLI): the record of accounts is looked at each second, and the view changes
    /// when the active account did.
    pub(crate) async fn follow_accounts(&self) {
        let stamp = |file: Option<&Path>| {
            let meta = std::fs::metadata(file?).ok()?;
            Some((meta.modified().ok(), meta.len()))
        };
        let mut seen = None;
        loop {
            tokio::time::sleep(ACCOUNTS_POLL).await;
            // The engine is looked up each time: "Check again" may have replaced it.
            let Ok(session) = self.session() else {
                continue;
            };
            let now = stamp(session.accounts_file());
            if now == seen {
                continue;
            }
            seen = now;
            if matches!(
                self.view(),
                SessionView::Loading | SessionView::WaitingForBrowser { .. }
            ) {
                continue;
            }
            if let Some(result) = session.follow_accounts().await {
                tracing::info!("the active account changed in another process of this app");
                self.publish(restored_view(result));
            }
        }
    }

    fn revocation_confirmed(&self) {
        if let SessionView::SignedOut {
            message: Some(message),
            provider_session,
            ..
        } = self.view()
            && message == REVOCATION_PENDING
        {
            self.publish(SessionView::SignedOut {
                message: Some("Your provider confirmed the sign-out.".to_owned()),
                provider_session,
                ended: None,
            });
        }
    }

    /// After a log-out, ends the provider's browser session too: opens its end-session page
    /// in the system browser and waits for it to send the browser back (RP-Initiated Logout).
    pub async fn end_provider_session(&self) -> Result<()> {
        let session = self.session()?;
        let url = lock(&self.end_session).take().ok_or_else(|| {
            Error::Refused("there is no provider session to end; you are signed out".to_owned())
        })?;
        let view = |provider_session, message| SessionView::SignedOut {
            message,
            provider_session,
            ended: None,
        };
        self.publish(view(ProviderSession::Ending, None));
        let result = session
            .end_provider_session(&url, END_SESSION_TIMEOUT)
            .await;
        if !matches!(self.view(), SessionView::SignedOut { .. }) {
            return Ok(()); // someone signed in meanwhile
        }
        match result {
            Ok(()) => {
                self.publish(view(ProviderSession::Ended, None));
                bring_to_front(&self.app);
            }
            Err(err) => {
                // Keep the URL so the person can try again.
                *lock(&self.end_session) = Some(url);
                let message = format!("The provider did not confirm the sign-out: {err}");
                self.publish(view(ProviderSession::MayBeSignedIn, Some(message)));
            }
        }
        Ok(())
    }

    /// "Retry now" in the offline view: the reconnecting session tries at once.
    pub fn retry_now(&self) {
        self.retry_now.notify_one();
    }

    /// Reads the configuration again and starts over with it (the set-up view's "Check
    /// again", after the person wrote or fixed the file).
    pub async fn reload_config(&self) {
        if let Ok(engine) = self.engine() {
            engine.session.cancel_login();
        }
        *lock(&self.engine) = load_engine(&self.options);
        self.publish(SessionView::Loading);
        self.restore().await;
    }

    /// Calls the configured API from Rust with the session's bearer. `request.path` must stay
    /// under `apiUrl`: another origin, a `.` or `..` segment, or a body over [`MAX_API_BODY`]
    /// is refused before anything is sent.
    pub async fn call_api(&self, request: ApiRequest) -> Result<ApiResult> {
        let api = self.api()?;
        let url = api_url(api.base(), &request.path)?;
        if let Some(body) = &request.body {
            let len = serde_json::to_vec(body).map_or(usize::MAX, |b| b.len());
            if len > MAX_API_BODY {
                return Err(Error::Refused(format!(
                    "the request body is {len} bytes; at most {MAX_API_BODY} are sent to the API"
                )));
            }
        }
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|e| Error::Refused(e.to_string()))?;
        let response = api
            .send(method, url.as_str(), request.body.as_ref())
            .await
            .map_err(|e| self.api_error(e))?;
        Ok(ApiResult::new(response.status, &response.body))
    }

    /// Restores the stored session (at start-up; the window shows "loading" until this
    /// publishes), and while the provider cannot be reached, reconnects with backoff.
    pub async fn restore(&self) {
        let session = match lock(&self.engine).clone() {
            Ok(engine) => engine.session,
            Err(setup) => {
                self.publish(not_configured(setup, &self.options.setup_example));
                return;
            }
        };
        let restored = session.restore().await;
        if session.pending_revocations() > 0 {
            tauri::async_runtime::spawn({
                let session = session.clone();
                async move { session.keep_revoking().await }
            });
        }
        let mut view = restored_view(restored);
        // Offline is a state, not a sign-out: show whose session it is and reconnect by itself.
        while matches!(view, SessionView::Offline { .. }) {
            self.publish(view);
            let answer = session.reconnect(&self.retry_now).await;
            if !matches!(self.view(), SessionView::Offline { .. }) {
                return; // the person signed out or in meanwhile
            }
            view = restored_view(answer);
        }
        self.publish(view);
    }

    /// Hands one deep link to the waiting sign-in. A refused link is said in the window; the
    /// link itself is never shown or sent to the web view.
    pub(crate) fn open_link(&self, link: &Url) {
        let Ok(session) = self.session() else {
            tracing::info!("ignored a link: no sign-in provider is configured");
            return;
        };
        let refused = match session.deliver_redirect(link) {
            Ok(()) => return,
            Err(latchkey_auth::RedirectRejected::NotARedirect) => {
                tracing::info!("ignored a link that is not a sign-in answer");
                return;
            }
            Err(why) => sentence(&why.to_string()),
        };
        match self.view() {
            SessionView::WaitingForBrowser {
                sign_in_url,
                signup,
                ..
            } => self.publish(SessionView::WaitingForBrowser {
                sign_in_url,
                signup,
                refused: Some(refused),
            }),
            SessionView::SignedOut { .. } => self.publish(signed_out(Some(refused))),
            _ => tracing::info!("{refused}"),
        }
    }

    /// The configured redirect mode, when there is a usable configuration (Linux and
    /// Windows register the scheme themselves in a development build).
    #[cfg(all(feature = "deep-link", any(target_os = "linux", windows)))]
    pub(crate) fn redirect_mode(&self) -> Option<latchkey_auth::RedirectMode> {
        self.session().ok().map(|s| s.config().redirect)
    }
}

/// The state behind an `AppHandle`, for the tasks the plugin spawns.
trait LatchkeyState<R: Runtime> {
    fn latchkey_state(&self) -> &Latchkey<R>;
}

impl<R: Runtime> LatchkeyState<R> for AppHandle<R> {
    fn latchkey_state(&self) -> &Latchkey<R> {
        self.state::<Latchkey<R>>().inner()
    }
}

/// `path` under the API base `base`, or why not. A `.` or `..` segment (percent-encoded too)
/// is refused outright, and the result must still be under the base, on its origin.
pub(crate) fn api_url(base: &Url, path: &str) -> Result<Url> {
    let refuse = |why: &str| Err(Error::Refused(format!("the API path {path:?} {why}")));
    if path.len() > 2048 {
        return Err(Error::Refused(format!(
            "the API path is {} characters long; at most 2048 are allowed",
            path.len()
        )));
    }
    let Some(relative) = path.strip_prefix('/') else {
        return refuse("must start with \"/\" (it is under the configured apiUrl)");
    };
    if relative.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return refuse("is not a path under the configured apiUrl");
    }
    if path.contains('#') {
        return refuse("cannot have a fragment");
    }
    let path_part = relative.split('?').next().unwrap_or_default();
    let dot_segment = path_part.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return refuse("cannot have \".\" or \"..\" segments");
    }
    let mut root = base.clone();
    root.set_query(None);
    root.set_fragment(None);
    if !root.path().ends_with('/') {
        let with_slash = format!("{}/", root.path());
        root.set_path(&with_slash);
    }
    let url = root
        .join(relative)
        .or_else(|_| refuse("is not a valid URL path"))?;
    let under = url.origin() == root.origin()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().starts_with(root.path());
    if !under {
        return refuse("leaves the configured apiUrl");
    }
    Ok(url)
}

fn load_engine(options: &Options) -> std::result::Result<Engine, Setup> {
    let config = match &options.source {
        Source::Given(config) => Ok((**config).clone()),
        Source::File(path) if !path.exists() => {
            return Err(Setup {
                config_path: path.display().to_string(),
                problem: None,
                ports_in_file: None,
            });
        }
        Source::File(path) => Config::load(path).map_err(|err| setup_for(path, &err)),
        Source::TauriConf => unreachable!("resolved at set-up"),
    }?;
    let mut builder = Session::builder(config).app(options.identity.clone());
    if let Some(browser) = &options.browser {
        builder = builder.browser(browser.clone());
    }
    if let Some((first, max)) = options.reconnect_backoff {
        builder = builder.reconnect_backoff(first, max);
    }
    let session = builder.build();
    if let Some(redirect) = &options.deep_link {
        session.accept_deep_links(redirect.clone());
    }
    let api = ApiClient::new(session.clone());
    Ok(Engine { session, api })
}

fn setup_for(path: &Path, err: &ConfigError) -> Setup {
    let ports_in_file = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| advice::ports_in(&text));
    Setup {
        config_path: path.display().to_string(),
        problem: Some(sentence(&err.to_string())),
        ports_in_file,
    }
}

/// The first window when nothing usable is configured: where the file goes and what to put in it.
fn not_configured(setup: Setup, example: &str) -> SessionView {
    let ports_from_file = setup.ports_in_file.is_some();
    let loopback_ports = setup
        .ports_in_file
        .unwrap_or_else(|| advice::SUGGESTED_LOOPBACK_PORTS.to_vec());
    SessionView::NotConfigured {
        config_path: setup.config_path,
        problem: setup.problem,
        dev_stack_example: example.to_owned(),
        callback_urls: advice::callback_urls(&loopback_ports),
        loopback_ports,
        ports_from_file,
    }
}

fn restored_view(restored: std::result::Result<Restored, SessionError>) -> SessionView {
    match restored {
        Ok(Restored::SignedIn(profile)) => signed_in(&profile),
        Ok(Restored::Offline {
            profile,
            reason,
            details,
        }) => SessionView::Offline {
            profile: profile.as_ref().map(profile_view),
            reason: format!("{reason}. It keeps trying and signs you back in by itself."),
            details: sentence(&details),
        },
        Ok(Restored::NothingStored) => signed_out(None),
        Err(err) => signed_out_after(&err),
    }
}

/// After the browser hands back, the person should land in the app again: the window
/// labelled `main`, else the first one.
pub(crate) fn bring_to_front<R: Runtime>(app: &AppHandle<R>) {
    let windows = app.webview_windows();
    let window = windows.get("main").or_else(|| windows.values().next());
    if let Some(window) = window {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn profile_view(profile: &Profile) -> ProfileView {
    ProfileView {
        sub: profile.sub.clone(),
        name: profile.display_name().to_owned(),
        email: profile.email.clone(),
        picture: profile.picture.clone(),
        claims_json: serde_json::to_string_pretty(&profile.claims).unwrap_or_default(),
    }
}

fn signed_in(profile: &Profile) -> SessionView {
    SessionView::SignedIn {
        profile: profile_view(profile),
    }
}

pub(crate) fn signed_out(message: Option<String>) -> SessionView {
    SessionView::SignedOut {
        message: message.map(|m| sentence(&m)),
        provider_session: ProviderSession::Unknown,
        ended: None,
    }
}

/// The signed-out view after `err`: why the session ended when it did (a calm notice, not
/// an error), else what went wrong.
fn signed_out_after(err: &SessionError) -> SessionView {
    if err.ended_the_session() {
        SessionView::SignedOut {
            message: None,
            provider_session: ProviderSession::Unknown,
            ended: Some(sentence(&err.to_string())),
        }
    } else {
        signed_out(Some(err.to_string()))
    }
}

/// Messages from the engine start in lower case, to fit inside other sentences.
pub(crate) fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_stay_under_the_base() {
        let base = Url::parse("http://127.0.0.1:6060/v1").unwrap();
        let ok = |path: &str| api_url(&base, path).unwrap().to_string();
        assert_eq!(ok("/api/todos"), "http://127.0.0.1:6060/v1/api/todos");
        assert_eq!(
            ok("/api/users?q=a b&page=2"),
            "http://127.0.0.1:6060/v1/api/users?q=a%20b&page=2"
        );
        for bad in [
            "api/todos",
            "//evil.example/x",
            "/../admin",
            "/%2e%2e/admin",
            "/.%2E/admin",
            "/a/../../x",
            "/a/../b",
            "/a/./b",
            "/\\evil",
            "/x#frag",
            "/x\n",
        ] {
            let err = api_url(&base, bad).unwrap_err().to_string();
            assert!(err.contains("the API path"), "{bad}: {err}");
        }
        assert!(api_url(&base, &format!("/{}", "a".repeat(3000))).is_err());
        // A base at the origin's root.
        let root = Url::parse("http://127.0.0.1:6060").unwrap();
        assert_eq!(
            api_url(&root, "/api/messages/public").unwrap().as_str(),
            "http://127.0.0.1:6060/api/messages/public"
        );
        assert!(api_url(&root, "/../x").is_err());
    }

    #[test]
    fn a_configuration_in_tauri_conf_is_checked_and_names_the_field() {
        let err = from_tauri_conf(None).unwrap_err().to_string();
        assert!(err.contains("plugins") && err.contains("latchkey"), "{err}");
        let value = serde_json::json!({
            "issuer": "https://id.example/",
            "clientId": "",
            "apiUrl": "https://api.example/",
        });
        let err = from_tauri_conf(Some(&value)).unwrap_err().to_string();
        assert!(
            err.contains(TAURI_CONF_ORIGIN) && err.contains("clientId"),
            "{err}"
        );
        let value = serde_json::json!({
            "issuer": "https://id.example/",
            "clientId": "abc",
            "apiUrl": "https://api.example/",
            "scope": "openid",
        });
        let err = from_tauri_conf(Some(&value)).unwrap_err().to_string();
        assert!(err.contains("scope"), "{err}");
    }
}
