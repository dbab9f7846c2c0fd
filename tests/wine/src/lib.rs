//! Tests only: see `tests/windows_cli.rs`.
