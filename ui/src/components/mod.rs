pub mod copy;
pub mod nav;
pub mod offline;
pub mod provider_session;
pub mod setup;
pub mod update;
pub mod waiting;
