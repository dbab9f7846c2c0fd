//! Several accounts from the command line: `login` adds one, `accounts` lists them, `switch`
//! changes the active one without the browser, `call --account` and `logout --account` act
//! on another, `logout --all` on every one; and the app (an engine session in another
//! process's place) and the CLI switching in turn.

mod common;

use common::*;
use latchkey_auth::{Config, Restored, Session};
use latchkey_dev_idp::DESKTOP_CLIENT_ID;

/// The protected message as the CLI prints it, and whose `sub` it names.
async fn caller(s: &Stack, extra: &[&str]) -> String {
    let url = format!("{}/api/messages/protected", s.api_url);
    let mut args = vec!["call"];
    args.extend_from_slice(extra);
    args.push(&url);
    let (ok, out, err) = cli(&s.config_path, &args, &[]).await;
    assert!(ok, "{out}{err}");
    ["jemma", "paul", "sebastian"]
        .into_iter()
        .find(|u| out.contains(&format!("dev-idp|{u}\"")))
        .unwrap_or_else(|| panic!("no known sub in {out}"))
        .to_owned()
}

fn code_grants(s: &Stack) -> usize {
    s.idp
        .counters()
        .code_grants
        .load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread")]
async fn login_adds_accounts_switch_changes_them_and_logout_takes_one_or_all() {
    let s = signed_in("jemma").await;
    let c = &s.config_path;
    let (ok, out, err) = cli(c, &["login", "--user", "paul"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("Signed in as Paul Smith"), "{out}");
    assert!(
        err.contains("prompt=select_account"),
        "the second login opens the account chooser: {err}"
    );
    assert!(err.contains("2 accounts are kept"), "{err}");

    let (ok, out, _) = cli(c, &["accounts"], &[]).await;
    assert!(ok);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "  Jemma Doe <jemma@example.com>",
            "* Paul Smith <paul@example.com>"
        ],
        "the list in order, the active one marked"
    );
    assert_eq!(caller(&s, &[]).await, "paul");

    // A switch by email, without the browser.
    let grants = code_grants(&s);
    let (ok, out, err) = cli(c, &["switch", "jemma@example.com"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Switched to Jemma Doe <jemma@example.com>"),
        "{out}"
    );
    assert_eq!(code_grants(&s), grants, "no sign-in in the browser");
    assert_eq!(caller(&s, &[]).await, "jemma");
    let (_, out, _) = cli(c, &["status"], &[]).await;
    assert!(out.contains("Signed in as Jemma Doe"), "{out}");

    // A one-off call as paul leaves jemma active.
    assert_eq!(caller(&s, &["--account", "Paul Smith"]).await, "paul");
    assert_eq!(caller(&s, &["--account", "dev-idp|paul"]).await, "paul");
    assert_eq!(caller(&s, &[]).await, "jemma");

    // Names that fit no account, or several, are refused with the candidates.
    let (ok, _, err) = cli(c, &["switch", "nobody@example.com"], &[]).await;
    assert!(!ok);
    assert!(
        err.contains("no account is called \"nobody@example.com\"")
            && err.contains("Jemma Doe <jemma@example.com>")
            && err.contains("Paul Smith <paul@example.com>"),
        "{err}"
    );
    s.idp.add_demo_user("paul2", "Paul Smith").unwrap();
    let (ok, out, err) = cli(c, &["login", "--user", "paul2"], &[]).await;
    assert!(ok, "{out}{err}");
    let (ok, _, err) = cli(c, &["switch", "Paul Smith"], &[]).await;
    assert!(!ok);
    assert!(
        err.contains("names several accounts")
            && err.contains("Paul Smith <paul@example.com>")
            && err.contains("Paul Smith <paul2@example.com>"),
        "{err}"
    );

    // Sign out of one that is not active: the others stay.
    let paul = s
        .idp
        .issued_refresh_tokens()
        .into_iter()
        .filter(|t| s.idp.refresh_token_is_active(t))
        .count();
    let (ok, out, err) = cli(c, &["logout", "--account", "paul@example.com"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("Signed out of Paul Smith."), "{out}");
    let active_now = s
        .idp
        .issued_refresh_tokens()
        .into_iter()
        .filter(|t| s.idp.refresh_token_is_active(t))
        .count();
    assert_eq!(active_now, paul - 1, "paul's refresh token was revoked");
    let (_, out, _) = cli(c, &["accounts"], &[]).await;
    assert!(!out.contains("<paul@example.com>"), "{out}");
    assert!(out.contains("* Paul Smith <paul2@example.com>"), "{out}");

    // Sign out of the active one: the next takes its place.
    let (ok, out, err) = cli(c, &["logout"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Signed out of Paul Smith. Jemma Doe is the active account now."),
        "{out}"
    );
    assert_eq!(caller(&s, &[]).await, "jemma");

    // And of all.
    cli(c, &["login", "--user", "sebastian"], &[]).await;
    let (ok, out, err) = cli(c, &["logout", "--all"], &[]).await;
    assert!(
        ok && out.contains("Signed out of every account."),
        "{out}{err}"
    );
    let (ok, out, _) = cli(c, &["accounts"], &[]).await;
    assert!(!ok && out.contains("No account is kept"), "{out}");
    let (ok, out, _) = cli(c, &["status"], &[]).await;
    assert!(!ok && out.contains("Not signed in"), "{out}");
    assert!(
        s.idp
            .issued_refresh_tokens()
            .iter()
            .all(|t| !s.idp.refresh_token_is_active(t)),
        "every account's token was revoked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_and_the_cli_switch_in_turn() {
    let s = signed_in("jemma").await;
    let c = &s.config_path;
    cli(c, &["login", "--user", "paul"], &[]).await;

    // The app: Latchkey's engine in this process, the CLI's peer.
    let config = Config::load(c).unwrap();
    let app = Session::new(config);
    match app.restore().await.unwrap() {
        Restored::SignedIn(profile) => assert_eq!(profile.sub, "dev-idp|paul"),
        other => panic!("{other:?}"),
    }

    // The CLI switches to jemma; the app follows at its next look at the record.
    let (ok, out, err) = cli(c, &["switch", "Jemma Doe"], &[]).await;
    assert!(ok, "{out}{err}");
    match app.follow_accounts().await {
        Some(Ok(Restored::SignedIn(profile))) => assert_eq!(profile.sub, "dev-idp|jemma"),
        other => panic!("{other:?}"),
    }

    // The app switches back to paul; the CLI's next command is paul's.
    let list = app.accounts().await.unwrap();
    let paul = list.find("paul@example.com").unwrap().entry.clone();
    app.switch_account(&paul).await.unwrap();
    assert_eq!(caller(&s, &[]).await, "paul");
    let (_, out, _) = cli(c, &["accounts"], &[]).await;
    assert!(out.contains("* Paul Smith"), "{out}");

    // Refreshes in turn never touch the wrong entry: no token was used twice.
    let (_, generation) = app.access_token().await.unwrap();
    app.refresh(generation).await.unwrap();
    assert_eq!(caller(&s, &[]).await, "paul");
    assert_eq!(reuse(&s.idp), 0, "no refresh token was presented twice");
    assert!(app.follow_accounts().await.is_none());
    let vault = latchkey_test_support::active_store(None, s.idp.issuer(), DESKTOP_CLIENT_ID).await;
    assert_eq!(
        vault
            .load()
            .await
            .unwrap()
            .session
            .unwrap()
            .binding
            .unwrap()
            .sub,
        "dev-idp|paul"
    );
    cli(c, &["logout", "--all"], &[]).await;
}
