//! The bridge to the native side: the plugin's binding (`latchkey_ipc::guest`) for sign-in,
//! and the same `invoke` for the shell's own data commands.

pub use latchkey_ipc::guest::invoke;
