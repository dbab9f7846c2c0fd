//! What the CLI tests share: the dev stack on loopback, the CLI as a real process.

#![allow(dead_code)]

use std::process::Output;

use latchkey_dev_idp::{DevIdp, Settings};
use latchkey_test_support::DevStack;

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Stack {
    pub idp: DevIdp,
    pub api_url: String,
    pub config_path: std::path::PathBuf,
}

pub async fn stack() -> Stack {
    stack_with(Settings::default()).await
}

pub async fn stack_with(settings: Settings) -> Stack {
    let stack = DevStack::start_with(settings).await;
    let config_path = stack.write_config(&std::env::temp_dir());
    let DevStack { idp, api_url } = stack;
    Stack {
        idp,
        api_url,
        config_path,
    }
}

pub async fn cli(
    config: &std::path::Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> (bool, String, String) {
    let (code, out, err) = cli_code(config, args, extra_env).await;
    (code == Some(0), out, err)
}

/// Runs the CLI; returns its exit code, stdout and stderr.
pub async fn cli_code(
    config: &std::path::Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey-cli"));
    cmd.args(args).env("LATCHKEY_CONFIG", config);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().await.unwrap();
    (
        status.code(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// The dev stack with `user` signed in through the CLI (and the scripted browser).
pub async fn signed_in(user: &str) -> Stack {
    signed_in_with(user, Settings::default()).await
}

/// The same, with the provider set up as `settings` say.
pub async fn signed_in_with(user: &str, settings: Settings) -> Stack {
    assert!(
        std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").is_some(),
        "run with `cargo xtask test`"
    );
    let s = stack_with(settings).await;
    let (ok, out, err) = cli(&s.config_path, &["login", "--user", user], &[]).await;
    assert!(ok, "{out}{err}");
    s
}

pub fn reuse(idp: &DevIdp) -> usize {
    idp.counters()
        .refresh_reuse
        .load(std::sync::atomic::Ordering::SeqCst)
}
