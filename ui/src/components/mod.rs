pub mod nav;
pub mod setup;
pub mod waiting;
