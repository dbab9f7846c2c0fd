//! The installed-package test lives in `tests/`; this crate has no library code.
