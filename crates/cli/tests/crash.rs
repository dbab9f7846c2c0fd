//! A Latchkey process killed (SIGKILL) at the worst moments of a refresh loses nothing it
//! could have kept: after the provider rotated the token and before the vault has the new
//! one, or just after the vault write. The next start is signed in, or — where the
//! provider's reuse detection has ended the session — says "sign in again" and leaves no
//! half-written entry.

mod common;

use std::time::Duration;

use common::*;
use latchkey_auth::SessionStore;
use latchkey_dev_idp::{DESKTOP_CLIENT_ID, Settings, Stall, Tamper};

async fn store(s: &Stack) -> SessionStore {
    latchkey_test_support::active_store(None, s.idp.issuer(), DESKTOP_CLIENT_ID).await
}

/// The refresh token in the vault now; the entry must always read whole.
async fn stored_token(s: &Stack) -> Option<String> {
    let entry = store(s)
        .await
        .load()
        .await
        .expect("the vault entry reads whole, never half-written");
    entry
        .session
        .map(|session| session.refresh_token.secret().clone())
}

/// Starts `latchkey-cli status`, which renews the session at start.
fn start_status(s: &Stack) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey-cli"))
        .arg("status")
        .env("LATCHKEY_CONFIG", &s.config_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the CLI starts")
}

async fn kill(mut child: tokio::process::Child) {
    child.start_kill().expect("SIGKILL is sent");
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the process was killed, not finished");
}

/// Kills a renewing CLI while the provider holds its answer at `point`; returns the token the
/// vault held before.
async fn kill_at(s: &Stack, point: Stall) -> String {
    let before = stored_token(s).await.expect("a stored session");
    s.idp.stall(Some(point));
    let child = start_status(s);
    tokio::time::timeout(Duration::from_secs(30), s.idp.stalled())
        .await
        .expect("the CLI reached the stall point");
    kill(child).await;
    s.idp.stall(None);
    before
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_the_provider_rotated_the_next_start_says_sign_in_again_cleanly() {
    for point in [Stall::RefreshAnswer, Stall::Userinfo] {
        let s = signed_in("jemma").await;
        if point == Stall::Userinfo {
            // The refreshed ID token carries no profile, so the engine asks /userinfo after
            // the rotation and before the vault write.
            s.idp.tamper(Tamper::IdTokenWithoutProfile);
        }
        let before = kill_at(&s, point).await;
        assert_eq!(
            stored_token(&s).await.as_deref(),
            Some(before.as_str()),
            "{point:?}: the vault still holds the token it had, whole"
        );
        // The provider retired that token: presenting it again is reuse, and it ends the
        // session (Auth0 and dev-idp alike). The person is told, once, plainly.
        let (code, out, err) = cli_code(&s.config_path, &["status"], &[]).await;
        assert_ne!(code, Some(0), "{point:?}: {out}{err}");
        let said = format!("{out}{err}");
        assert!(said.contains("sign in again"), "{point:?}: {said}");
        assert!(!said.contains("panicked"), "{point:?}: {said}");
        assert_eq!(
            stored_token(&s).await,
            None,
            "{point:?}: the ended session is gone from the vault, nothing half-written"
        );
        // And signing in again just works.
        let (ok, out, err) = cli(&s.config_path, &["login", "--user", "jemma"], &[]).await;
        assert!(ok, "{point:?}: {out}{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_refresh_at_a_provider_that_does_not_rotate_the_next_start_is_signed_in() {
    let mut settings = Settings::default();
    settings.clients[0].rotate_refresh_tokens = false;
    let s = signed_in_with("paul", settings).await;
    let before = kill_at(&s, Stall::RefreshAnswer).await;
    assert_eq!(stored_token(&s).await.as_deref(), Some(before.as_str()));
    let (ok, out, err) = cli(&s.config_path, &["status"], &[]).await;
    assert!(ok && out.contains("Signed in as Paul Smith"), "{out}{err}");
    assert_eq!(reuse(&s.idp), 0);
}

/// A pipe already full: a process whose standard output it is blocks at its first line.
#[cfg(unix)]
async fn full_pipe() -> std::process::Stdio {
    let (sender, receiver) = tokio::net::unix::pipe::pipe().expect("a pipe");
    let filler = [b'.'; 4096];
    // Until the kernel itself says the pipe is full: after `writable`, a `WouldBlock` is
    // the write's own EAGAIN, not tokio's readiness not being known yet.
    loop {
        sender.writable().await.expect("a writable pipe");
        match sender.try_write(&filler) {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(err) => panic!("filling the pipe: {err}"),
        }
    }
    // The read end stays open (leaked for the test's life), so the writer blocks, not fails.
    std::mem::forget(receiver);
    std::process::Stdio::from(sender.into_blocking_fd().expect("a blocking pipe"))
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn killed_just_after_the_vault_write_the_next_start_is_signed_in() {
    let s = signed_in("sebastian").await;
    let before = stored_token(&s).await.expect("a stored session");
    // `status` writes the vault, then prints: with its output a full pipe it is held right
    // after the vault write, so the kill below lands there, whatever the machine's speed.
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey-cli"))
        .arg("status")
        .env("LATCHKEY_CONFIG", &s.config_path)
        .stdout(full_pipe().await)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the CLI starts");
    // Watch the vault from here, and kill the CLI the moment the new token is in it.
    let written = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stored_token(&s).await {
                Some(now) if now != before => return now,
                _ => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    })
    .await
    .expect("the CLI wrote the rotated token");
    let mut child = child;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the CLI is still running, held at its first line after the vault write"
    );
    kill(child).await;
    assert!(
        s.idp.refresh_token_is_active(&written),
        "the vault holds the live token"
    );
    let (ok, out, err) = cli(&s.config_path, &["status"], &[]).await;
    assert!(ok && out.contains("Signed in as Sebastian"), "{out}{err}");
    assert_eq!(reuse(&s.idp), 0, "nothing replayed a retired token");
}
