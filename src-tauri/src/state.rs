//! The shell's one piece of state: the session, and the view the UI was last told.

use std::sync::Mutex;

use latchkey_auth::{ApiClient, Config, Profile, Session};
use latchkey_ipc::{ProfileView, SESSION_CHANGED, SessionView};
use tauri::{AppHandle, Emitter, Manager};

/// Registered with `.manage()`.
pub struct AppState {
    /// `Err` holds a configuration problem, shown instead of a sign-in button that cannot work.
    pub session: Result<Session, String>,
    pub api: Option<ApiClient>,
    view: Mutex<SessionView>,
}

impl AppState {
    pub fn new(config: Result<Config, String>) -> Self {
        let session = config.map(Session::new);
        let api = session.as_ref().ok().map(|s| ApiClient::new(s.clone()));
        Self {
            session,
            api,
            view: Mutex::new(SessionView::Loading),
        }
    }

    pub fn view(&self) -> SessionView {
        self.view.lock().expect("view lock").clone()
    }

    pub fn session(&self) -> Result<&Session, latchkey_ipc::Error> {
        self.session
            .as_ref()
            .map_err(|e| latchkey_ipc::Error::new(e.clone()))
    }
}

/// Records the new view and pushes it to the UI.
pub fn publish(app: &AppHandle, view: SessionView) {
    let state = app.state::<AppState>();
    *state.view.lock().expect("view lock") = view.clone();
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
    }
}

/// Messages from the engine start in lower case, to fit inside other sentences.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
