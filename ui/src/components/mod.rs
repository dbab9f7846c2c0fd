pub mod nav;
pub mod provider_session;
pub mod setup;
pub mod waiting;
