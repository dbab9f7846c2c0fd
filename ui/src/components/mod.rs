pub mod nav;
pub mod waiting;
