//! The typed contract between a web view and `tauri-plugin-latchkey` (and Latchkey's own
//! shell), and with the `guest` feature the Rust binding that calls it from a WebAssembly UI.
//!
//! Nothing here can hold a token: the UI sees who is signed in and what the API answered,
//! never a credential. The plugin's commands are listed in [`commands`]; it pushes every
//! [`SessionView`] change as [`SESSION_CHANGED`]. Latchkey's shell adds its own data
//! commands (`todos`, `add_todo`, `update_todo`, `delete_todo`, `profile_form`,
//! `save_profile`, `access`, `users`, `mark`) and its updates (`update_status`,
//! `check_for_update`, `install_update`, `cancel_update`, `dismiss_update`, pushed as [`UPDATE_CHANGED`]).

#[cfg(feature = "guest")]
pub mod guest;

use serde::{Deserialize, Serialize};

/// The event that carries each new [`SessionView`].
pub const SESSION_CHANGED: &str = "latchkey://session-changed";

/// The plugin's commands, as the web view invokes them (`plugin:latchkey|…`).
pub mod commands {
    /// The session as the window should show it now: a [`crate::SessionView`].
    pub const SESSION: &str = "plugin:latchkey|session";
    /// Starts a sign-in in the system browser; progress arrives as session views.
    pub const LOGIN: &str = "plugin:latchkey|login";
    /// "Use another account": the provider's account chooser or login screen.
    pub const LOGIN_ANOTHER_ACCOUNT: &str = "plugin:latchkey|login_another_account";
    /// Starts a device sign-in (RFC 8628), for a device without a browser: the view shows
    /// the code to enter elsewhere. Not in `latchkey:default`; grant
    /// `latchkey:allow-device-login` where the app wants it.
    pub const DEVICE_LOGIN: &str = "plugin:latchkey|device_login";
    /// Starts a sign-up (Auth0 `screen_hint=signup`).
    pub const SIGNUP: &str = "plugin:latchkey|signup";
    /// Stops waiting for the browser.
    pub const CANCEL_LOGIN: &str = "plugin:latchkey|cancel_login";
    /// Signs out here: forgets the tokens, revokes the refresh token.
    pub const LOGOUT: &str = "plugin:latchkey|logout";
    /// After a log-out, ends the provider's browser session too.
    pub const END_PROVIDER_SESSION: &str = "plugin:latchkey|end_provider_session";
    /// The offline view's "Retry now".
    pub const RETRY_NOW: &str = "plugin:latchkey|retry_now";
    /// Reads the configuration again and starts over with it.
    pub const RELOAD_CONFIG: &str = "plugin:latchkey|reload_config";
    /// Calls the configured API from Rust: an [`crate::ApiRequest`] in, an
    /// [`crate::ApiResult`] out.
    pub const CALL_API: &str = "plugin:latchkey|call_api";
    /// The accounts kept, as [`crate::AccountView`]s, the active one marked.
    pub const ACCOUNTS: &str = "plugin:latchkey|accounts";
    /// Makes another account (`{ id }`) the active one, without the browser.
    pub const SWITCH_ACCOUNT: &str = "plugin:latchkey|switch_account";
    /// Signs out of one account (`{ id }`); the others stay.
    pub const LOGOUT_ACCOUNT: &str = "plugin:latchkey|logout_account";
    /// Signs out of every account.
    pub const LOGOUT_ALL: &str = "plugin:latchkey|logout_all";
}

/// One account kept, as the account menu shows it (never a token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// What the switch and sign-out commands take to name this account.
    pub id: String,
    /// The name, else the email, else the subject.
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
    /// The account the window and the API calls are on.
    pub active: bool,
    /// The provider refused this account's session: it needs a sign-in in the browser.
    pub sign_in_again: bool,
}

/// What the UI shows about the session. On the wire it is serde's default shape, the state
/// around its fields (`{"signedIn": {"profile": …}}`, `"loading"`): an internally tagged enum
/// would make the UI buffer every payload to find its tag, which cost its wasm 29 KB.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum SessionView {
    /// Start-up: the stored session is being restored.
    Loading,
    /// No usable `auth_config.json`: the window explains where it goes and what to write.
    NotConfigured {
        /// Where Latchkey looks for the file on this machine.
        config_path: String,
        /// What is wrong with the file that is there; `None` when there is no file.
        problem: Option<String>,
        /// A complete file for the local dev stack.
        dev_stack_example: String,
        /// The loopback ports to show in the example for providers that compare the callback
        /// URL exactly (Auth0, Okta): the file's own `loopbackPorts` when it names some.
        #[serde(default)]
        loopback_ports: Vec<u16>,
        /// The callback URL of each of `loopback_ports`, to register at such a provider.
        #[serde(default)]
        callback_urls: Vec<String>,
        /// Whether `loopback_ports` came from the file that is there.
        #[serde(default)]
        ports_from_file: bool,
    },
    /// Nobody is signed in; `message` says what went wrong, when something did.
    SignedOut {
        message: Option<String>,
        /// Where the provider's own browser session stands after a log-out.
        #[serde(default)]
        provider_session: ProviderSession,
        /// Why the person must sign in again, when a session ended without their log-out
        /// here: the provider revoked or expired it, a sign-out in another window or the
        /// CLI, another person at the provider, or the provider asking for a new sign-in.
        #[serde(default)]
        ended: Option<String>,
    },
    /// The sign-in page is open in the browser.
    WaitingForBrowser {
        sign_in_url: String,
        signup: bool,
        /// Set when an answer that does not belong to this sign-in was refused (wrong `state`).
        #[serde(default)]
        refused: Option<String>,
    },
    /// A device sign-in (RFC 8628) waits for the person to enter `user_code` at
    /// `verification_uri`, on this device or another. The code alone signs nobody in: the
    /// device code that goes with it stays in Rust.
    WaitingForDevice {
        verification_uri: String,
        /// The same page with the code filled in, when the provider gives one.
        #[serde(default)]
        verification_uri_complete: Option<String>,
        user_code: String,
        /// How long the code stays valid, in seconds.
        expires_in_secs: u64,
    },
    /// Somebody is signed in.
    SignedIn { profile: ProfileView },
    /// A session is stored but the provider cannot be reached: it is kept, and the shell
    /// reconnects by itself (`retry_now` tries at once). `profile` is the vault's cache.
    Offline {
        profile: Option<ProfileView>,
        /// One calm sentence: what cannot be reached.
        reason: String,
        /// The whole error chain, behind "Details" for support.
        #[serde(default)]
        details: String,
    },
}

/// The provider's browser session after Latchkey signed out (RP-Initiated Logout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProviderSession {
    /// Nothing to offer: no log-out happened, or the provider has no end-session endpoint.
    #[default]
    Unknown,
    /// The browser may still be signed in at the provider; Latchkey can end that too.
    MayBeSignedIn,
    /// The end-session page is open in the browser.
    Ending,
    /// The provider confirmed the end of its session.
    Ended,
}

/// Who is signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub sub: String,
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
    /// The ID token's validated claims, pretty-printed JSON.
    pub claims_json: String,
}

/// Moments of start-up the UI reports, so `cargo xtask bench` can time them from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StartupMark {
    /// The UI rendered for the first time.
    FirstPaint,
    /// The signed-in view rendered for the first time.
    SignedIn,
}

/// The API endpoints the UI may ask for. Never a URL: the shell decides where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Public,
    Protected,
    Admin,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Self::Public => "/api/messages/public",
            Self::Protected => "/api/messages/protected",
            Self::Admin => "/api/messages/admin",
        }
    }
}

/// The HTTP methods a web view may ask the plugin to call the API with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl ApiMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// A call to the configured API. `path` is under the API's base URL (`/api/todos`, with a
/// query if needed); it can never name another origin or climb out of the base.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiRequest {
    #[serde(default)]
    pub method: ApiMethod,
    pub path: String,
    /// Sent as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl ApiRequest {
    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: ApiMethod::Get,
            path: path.into(),
            body: None,
        }
    }
}

/// What the API answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResult {
    pub status: u16,
    /// The body, pretty-printed when it is JSON.
    pub body: String,
    /// A sentence for a person when the status is not a success.
    pub explanation: Option<String>,
}

impl ApiResult {
    pub fn new(status: u16, body: &str) -> Self {
        let body = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| body.to_owned());
        Self {
            status,
            body,
            explanation: explain_status(status),
        }
    }
}

/// The words a person needs for an API status.
pub fn explain_status(status: u16) -> Option<String> {
    let text = match status {
        200..=299 => return None,
        401 => "The API did not accept your sign-in (401). Sign in again and retry.",
        403 => "You are not allowed to see this (403): your account lacks the permission it needs.",
        404 => "The API has no such endpoint (404).",
        500..=599 => "The API failed on its side. Try again later.",
        _ => "The API refused the request.",
    };
    Some(text.to_owned())
}

/// One of the signed-in person's todos, as the API keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    pub id: String,
    pub title: String,
    pub done: bool,
}

/// A change to one todo: `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TodoChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<bool>,
}

/// The editable part of the profile, as the provider's management API has it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileForm {
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    /// Only accounts with a password at the provider may change their email.
    pub email_editable: bool,
}

/// What the person asks to change; `email` only when it is editable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileChange {
    pub given_name: String,
    pub family_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The permission that shows the Users page (the sample API checks it again).
pub const USERS_PERMISSION: &str = "read:users";

/// What the signed-in person may do, as the sample API reads their access token
/// (`GET /api/me`); the web view never decodes a token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    pub permissions: Vec<String>,
    /// Auth0 roles, when the provider puts them in the token.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Access {
    pub fn may_list_users(&self) -> bool {
        self.permissions.iter().any(|p| p == USERS_PERMISSION)
    }
}

/// One of the provider's users, as the Users page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
    /// RFC 3339, as the provider says; `None` for someone who never signed in.
    pub last_login: Option<String>,
}

/// One page of a user search.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    pub users: Vec<UserRow>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

impl UsersPage {
    /// Whether a page follows this one.
    pub fn has_next(&self) -> bool {
        (u64::from(self.page) + 1) * u64::from(self.per_page) < self.total
    }
}

/// An error a command returns: a message a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The event that carries each new [`UpdateStatus`] (Latchkey's shell, not the plugin).
pub const UPDATE_CHANGED: &str = "latchkey://update-changed";

/// The running version and what the window shows about updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStatus {
    /// The version running now.
    pub current: String,
    pub view: UpdateView,
}

/// What the window shows about updates: nothing, most of the time. Checks that fail on their
/// own (offline, a server error) stay [`UpdateView::Quiet`] and are retried; only a check the
/// person asked for says how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum UpdateView {
    /// Nothing to show.
    Quiet,
    /// This build does not update itself (no update key or server was built in).
    Off { reason: String },
    /// A check the person asked for is under way.
    Checking,
    /// The person asked: this is the newest version.
    UpToDate,
    /// The person asked and the update server could not say; checks go on in the background.
    CheckFailed { message: String },
    /// A newer version exists; nothing is installed until the person says so.
    Available {
        version: String,
        notes: Option<String>,
    },
    /// The new version is downloading (`total` when the server said its size).
    Downloading {
        version: String,
        received: u64,
        total: Option<u64>,
    },
    /// Downloaded and verified; the package manager is installing it.
    Installing { version: String },
    /// The update was not installed (a bad signature, a refused download, a failed install):
    /// the version running stays as it is.
    Failed { version: String, message: String },
    /// A newer version exists but this kind of install cannot take it by itself.
    CannotUpdate { version: String, message: String },
}

/// The pages of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Home,
    Profile,
    Todos,
    ExternalApi,
    /// The provider's users; listed in the navigation only for holders of `read:users`.
    Users,
}

impl Page {
    /// Guarded pages need a signed-in person.
    pub fn needs_sign_in(self) -> bool {
        !matches!(self, Self::Home)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Home => "Home",
            Self::Profile => "Profile",
            Self::Todos => "Todos",
            Self::ExternalApi => "External API",
            Self::Users => "Users",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_page_knows_whether_another_follows_for_any_page_number() {
        let page = |page, total| UsersPage {
            users: vec![],
            total,
            page,
            per_page: 10,
        };
        assert!(page(0, 11).has_next());
        assert!(!page(0, 10).has_next());
        assert!(!page(1, 20).has_next());
        assert!(!page(u32::MAX, 5).has_next(), "no overflow");
    }

    #[test]
    fn session_view_serializes_as_its_state_around_its_fields() {
        let view = SessionView::WaitingForBrowser {
            sign_in_url: "http://127.0.0.1:1/authorize".into(),
            signup: false,
            refused: None,
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json["waitingForBrowser"]["signInUrl"],
            "http://127.0.0.1:1/authorize"
        );
        assert_eq!(serde_json::from_value::<SessionView>(json).unwrap(), view);
    }

    #[test]
    fn the_offline_view_carries_the_cached_profile_and_the_reason() {
        let view = SessionView::Offline {
            profile: Some(ProfileView {
                sub: "dev-idp|jemma".into(),
                name: "Jemma Doe".into(),
                email: None,
                picture: None,
                claims_json: "{}".into(),
            }),
            reason: "Your sign-in provider (127.0.0.1:6080) cannot be reached".into(),
            details: "cannot reach the sign-in provider (connection refused)".into(),
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["offline"]["profile"]["name"], "Jemma Doe");
        assert_eq!(
            json["offline"]["details"],
            "cannot reach the sign-in provider (connection refused)"
        );
        assert_eq!(serde_json::from_value::<SessionView>(json).unwrap(), view);
        assert_eq!(
            serde_json::to_value(SessionView::Loading).unwrap(),
            "loading"
        );
    }

    #[test]
    fn endpoints_are_names_not_urls() {
        assert_eq!(
            serde_json::to_string(&Endpoint::Admin).unwrap(),
            "\"admin\""
        );
        assert!(serde_json::from_str::<Endpoint>("\"http://evil.example/\"").is_err());
    }

    #[test]
    fn api_results_explain_failures_in_words() {
        let denied = ApiResult::new(403, r#"{"error":"insufficient_scope"}"#);
        assert!(denied.explanation.unwrap().contains("not allowed"));
        assert!(denied.body.contains("\n  \"error\""), "pretty JSON");
        assert_eq!(ApiResult::new(200, "{}").explanation, None);
    }

    #[test]
    fn only_home_is_open_to_everyone() {
        assert!(!Page::Home.needs_sign_in());
        assert!(
            Page::Profile.needs_sign_in()
                && Page::Todos.needs_sign_in()
                && Page::ExternalApi.needs_sign_in()
        );
    }
}
