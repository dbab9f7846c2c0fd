//! The shell's one piece of state: the session, and the view the UI was last told.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use latchkey_auth::{ApiClient, Config, ConfigError, Profile, Session, SessionError, advice};
use latchkey_ipc::{ProfileView, ProviderSession, SESSION_CHANGED, SessionView, StartupMark};
use tauri::{AppHandle, Emitter, Manager};
use url::Url;

/// `auth_config.json` for Latchkey's local dev stack (`cargo xtask dev-stack`): dev-idp on
/// 127.0.0.1:6080, the sample API on 127.0.0.1:6060. The setup page shows it.
const DEV_STACK_JSON: &str = include_str!("../../dev-stack.json");

/// Locks `mutex`, taking the data as it is if a panicking thread poisoned it: each value behind
/// the shell's locks is whole after every assignment.
pub fn lock_unpoisoned<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registered with `.manage()`.
pub struct AppState {
    /// `Err` holds why there is no usable configuration, shown instead of a sign-in button
    /// that cannot work. Replaced when the person asks to check the configuration again.
    engine: Mutex<Result<Engine, Setup>>,
    view: Mutex<SessionView>,
    /// After a log-out: the provider's end-session URL (it holds the ID token as
    /// `id_token_hint`, so it stays here and goes only to the system browser).
    pub end_session: Mutex<Option<Url>>,
    /// The start-up marks already recorded (the first of each counts).
    pub marks: Mutex<HashSet<StartupMark>>,
    /// The private-use URI redirect this build registers (tauri.conf.json), if any.
    deep_link: Option<Url>,
    /// "Retry now" in the offline view wakes the reconnecting session.
    pub retry_now: Arc<tokio::sync::Notify>,
}

/// The signed-in machinery for one configuration.
#[derive(Clone)]
pub struct Engine {
    pub session: Session,
    pub api: ApiClient,
}

/// What the person must fix before anyone can sign in.
#[derive(Clone)]
pub struct Setup {
    pub config_path: String,
    pub problem: Option<String>,
    /// The `loopbackPorts` of the file that is there, when it names some.
    pub ports_in_file: Option<Vec<u16>>,
}

impl AppState {
    pub fn new(deep_link: Option<Url>) -> Self {
        Self {
            engine: Mutex::new(load_engine(deep_link.as_ref())),
            view: Mutex::new(SessionView::Loading),
            end_session: Mutex::new(None),
            marks: Mutex::new(HashSet::new()),
            deep_link,
            retry_now: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub fn view(&self) -> SessionView {
        lock_unpoisoned(&self.view).clone()
    }

    pub fn engine(&self) -> Result<Engine, Setup> {
        lock_unpoisoned(&self.engine).clone()
    }

    /// Reads the configuration again (after the person wrote or fixed it).
    pub fn reload(&self) -> Result<Engine, Setup> {
        let engine = load_engine(self.deep_link.as_ref());
        *lock_unpoisoned(&self.engine) = engine.clone();
        engine
    }

    pub fn session(&self) -> Result<Session, latchkey_ipc::Error> {
        self.engine()
            .map(|engine| engine.session)
            .map_err(|setup| latchkey_ipc::Error::new(setup.to_string()))
    }
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

fn load_engine(deep_link: Option<&Url>) -> Result<Engine, Setup> {
    match Config::find() {
        Ok((config, _path)) => {
            let session = Session::new(config);
            if let Some(redirect) = deep_link {
                session.accept_deep_links(redirect.clone());
            }
            let api = ApiClient::new(session.clone());
            Ok(Engine { session, api })
        }
        Err(ConfigError::Missing { path }) => Err(Setup {
            config_path: path.display().to_string(),
            problem: None,
            ports_in_file: None,
        }),
        Err(err) => {
            let path = Config::path();
            let ports_in_file = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| advice::ports_in(&text));
            Err(Setup {
                config_path: path.display().to_string(),
                problem: Some(sentence(&err.to_string())),
                ports_in_file,
            })
        }
    }
}

/// The first window when nothing usable is configured: where the file goes and what to put in it.
pub fn not_configured(setup: Setup) -> SessionView {
    let ports_from_file = setup.ports_in_file.is_some();
    let loopback_ports = setup
        .ports_in_file
        .unwrap_or_else(|| advice::SUGGESTED_LOOPBACK_PORTS.to_vec());
    SessionView::NotConfigured {
        config_path: setup.config_path,
        problem: setup.problem,
        dev_stack_example: DEV_STACK_JSON.to_owned(),
        callback_urls: advice::callback_urls(&loopback_ports),
        loopback_ports,
        ports_from_file,
    }
}

/// Records the new view and pushes it to the UI.
pub fn publish(app: &AppHandle, view: SessionView) {
    let state = app.state::<AppState>();
    *lock_unpoisoned(&state.view) = view.clone();
    if let Err(err) = app.emit(SESSION_CHANGED, &view) {
        tracing::warn!("could not push the session view: {err}");
    }
}

pub fn profile_view(profile: &Profile) -> ProfileView {
    ProfileView {
        sub: profile.sub.clone(),
        name: profile.display_name().to_owned(),
        email: profile.email.clone(),
        picture: profile.picture.clone(),
        claims_json: serde_json::to_string_pretty(&profile.claims).unwrap_or_default(),
    }
}

pub fn signed_in(profile: &Profile) -> SessionView {
    SessionView::SignedIn {
        profile: profile_view(profile),
    }
}

pub fn signed_out(message: Option<String>) -> SessionView {
    SessionView::SignedOut {
        message: message.map(|m| sentence(&m)),
        provider_session: ProviderSession::Unknown,
        ended: None,
    }
}

/// The signed-out view after `err`: why the session ended when it did (a calm notice, not
/// an error), else what went wrong.
pub fn signed_out_after(err: &SessionError) -> SessionView {
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
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
