pub mod external_api;
pub mod home;
pub mod profile;
pub mod todos;
pub mod users;
