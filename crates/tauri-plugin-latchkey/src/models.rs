//! What crosses to the web view: the shared contract of `latchkey-ipc`, re-exported.

pub use latchkey_ipc::{
    ApiMethod, ApiRequest, ApiResult, ProfileView, ProviderSession, SESSION_CHANGED, SessionView,
    commands as command_names,
};
