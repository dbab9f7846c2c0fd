//! Several accounts kept side by side: added in the browser's account chooser, switched
//! without it, each with its own entry; one revoked or signed out of while the others keep
//! working; the old single entry taken over; two processes switching in turn.

mod common;

use std::sync::atomic::Ordering;

use common::{Stack, as_user, stack};
use latchkey_auth::{
    ApiClient, LoginOptions, MAX_ACCOUNTS, Restored, Session, SessionError, SessionStore,
    StoredEntry,
};

/// "Add account": the provider's chooser, pre-filled with `user` (the scripted browser
/// signs the hinted user in).
fn add(user: &str) -> LoginOptions {
    LoginOptions {
        force_login: true,
        ..as_user(user)
    }
}

/// Whom the API sees as the caller: the `sub` in the protected message.
async fn api_sees(stack: &Stack, session: &Session) -> String {
    let answer = ApiClient::new(session.clone())
        .get(&stack.api("/api/messages/protected"))
        .await
        .expect("the API answers");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let text = answer.body;
    ["jemma", "paul", "sebastian", "ada", "grace"]
        .into_iter()
        .find(|u| text.contains(&format!("dev-idp|{u}\"")))
        .unwrap_or_else(|| panic!("no known sub in {text}"))
        .to_owned()
}

fn code_grants(stack: &Stack) -> usize {
    stack.idp.counters().code_grants.load(Ordering::SeqCst)
}

async fn entry_of(session: &Session, email_or_name: &str) -> String {
    let list = session.accounts().await.unwrap();
    list.find(email_or_name).unwrap().entry.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_accounts_switch_without_the_browser_and_each_call_carries_its_own_token() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    let paul = session.login(add("paul"), |_| {}).await.unwrap();
    assert_eq!(paul.sub, "dev-idp|paul");
    let prompt = stack.idp.prompts().last().cloned().flatten();
    assert!(
        prompt
            .as_deref()
            .unwrap_or_default()
            .contains("select_account"),
        "adding an account opens the provider's account chooser: {prompt:?}"
    );

    let list = session.accounts().await.unwrap();
    let names: Vec<_> = list.accounts.iter().map(|a| a.label().to_owned()).collect();
    assert_eq!(
        names,
        ["Jemma Doe", "Paul Smith"],
        "in the order they were added"
    );
    assert_eq!(list.active().unwrap().sub.as_deref(), Some("dev-idp|paul"));
    assert_ne!(list.accounts[0].entry, list.accounts[1].entry);
    assert_eq!(api_sees(&stack, &session).await, "paul");

    // Back to jemma: her own refresh token, no browser.
    let grants = code_grants(&stack);
    let jemma = entry_of(&session, "Jemma Doe").await;
    let profile = session.switch_account(&jemma).await.unwrap();
    assert_eq!(profile.sub, "dev-idp|jemma");
    assert_eq!(code_grants(&stack), grants, "no sign-in in the browser");
    assert_eq!(api_sees(&stack, &session).await, "jemma");
    assert_eq!(
        session.accounts().await.unwrap().active.as_deref(),
        Some(jemma.as_str())
    );

    // Each account's entry holds its own token; no token is stored twice.
    let base = stack.base();
    let j = base.account("dev-idp|jemma").load().await.unwrap();
    let p = base.account("dev-idp|paul").load().await.unwrap();
    let (j, p) = (j.session.unwrap(), p.session.unwrap());
    // Compared without printing: a failure must not show a token.
    assert!(
        j.refresh_token.secret() != p.refresh_token.secret(),
        "each account has its own refresh token"
    );
    assert_eq!(j.binding.unwrap().sub, "dev-idp|jemma");
    assert_eq!(p.binding.unwrap().sub, "dev-idp|paul");
    let record = std::fs::read_to_string(session.accounts_file().unwrap()).unwrap();
    assert!(
        !record.contains(j.refresh_token.secret()) && !record.contains(p.refresh_token.secret()),
        "the record of accounts holds no token"
    );

    // A one-off call as the other account leaves the active one alone.
    let paul_entry = entry_of(&session, "Paul Smith").await;
    let one_off = session.for_account(&paul_entry);
    assert!(matches!(
        one_off.restore().await.unwrap(),
        Restored::SignedIn(_)
    ));
    assert_eq!(api_sees(&stack, &one_off).await, "paul");
    assert_eq!(api_sees(&stack, &session).await, "jemma");
    assert_eq!(
        session.accounts().await.unwrap().active.as_deref(),
        Some(jemma.as_str())
    );

    // A restart restores the active account only.
    let restarted = stack.session_without_browser();
    let refreshes = stack.idp.counters().refresh_grants.load(Ordering::SeqCst);
    match restarted.restore().await.unwrap() {
        Restored::SignedIn(profile) => assert_eq!(profile.sub, "dev-idp|jemma"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        stack.idp.counters().refresh_grants.load(Ordering::SeqCst),
        refreshes + 1,
        "one refresh at start: the active account's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn five_accounts_are_kept_in_order_and_the_list_is_capped() {
    let stack = stack().await;
    for (user, name) in [("ada", "Ada Lovelace"), ("grace", "Grace Hopper")] {
        stack.idp.add_demo_user(user, name).unwrap();
    }
    let session = stack.session();
    let users = ["jemma", "paul", "sebastian", "ada", "grace"];
    for user in users {
        session.login(add(user), |_| {}).await.unwrap();
    }
    let list = session.accounts().await.unwrap();
    assert_eq!(list.accounts.len(), 5);
    let subs: Vec<_> = list
        .accounts
        .iter()
        .map(|a| a.sub.clone().unwrap())
        .collect();
    assert_eq!(subs, users.map(|u| format!("dev-idp|{u}")));
    for user in ["paul", "ada", "jemma"] {
        let entry = list
            .accounts
            .iter()
            .find(|a| a.sub.as_deref() == Some(&format!("dev-idp|{user}")))
            .unwrap()
            .entry
            .clone();
        session.switch_account(&entry).await.unwrap();
        assert_eq!(api_sees(&stack, &session).await, user);
    }
    // Signing in again as a kept account does not add one.
    session.login(add("grace"), |_| {}).await.unwrap();
    assert_eq!(session.accounts().await.unwrap().accounts.len(), 5);

    // The cap: more accounts than MAX_ACCOUNTS are refused with a clear message, and the
    // active session is kept.
    for n in 0..(MAX_ACCOUNTS - 5) {
        let user = format!("extra{n}");
        stack
            .idp
            .add_demo_user(&user, &format!("Extra {n}"))
            .unwrap();
        session.login(add(&user), |_| {}).await.unwrap();
    }
    stack
        .idp
        .add_demo_user("one-too-many", "One Too Many")
        .unwrap();
    let err = session
        .login(add("one-too-many"), |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("{MAX_ACCOUNTS} accounts are kept already")),
        "{err}"
    );
    let list = session.accounts().await.unwrap();
    assert_eq!(list.accounts.len(), MAX_ACCOUNTS);
    assert!(session.is_signed_in());
    assert_eq!(
        session.profile().unwrap().sub,
        format!("dev-idp|extra{}", MAX_ACCOUNTS - 6)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_revoked_at_the_provider_alone_needs_a_sign_in() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    session.login(add("paul"), |_| {}).await.unwrap();
    let jemma = entry_of(&session, "Jemma Doe").await;
    let token = stack
        .base()
        .account("dev-idp|jemma")
        .refresh_token()
        .await
        .unwrap()
        .unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}oauth/revoke", stack.idp.issuer()))
        .form(&[
            ("token", token.secret().as_str()),
            ("client_id", "latchkey-desktop"),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());

    let err = session.switch_account(&jemma).await.unwrap_err();
    assert!(
        matches!(err, SessionError::AccountSignInRequired { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("Jemma Doe needs a new sign-in") && message.contains("unaffected"),
        "{message}"
    );
    // Paul is still the active account and still works.
    assert_eq!(api_sees(&stack, &session).await, "paul");
    let list = session.accounts().await.unwrap();
    assert_eq!(list.active().unwrap().sub.as_deref(), Some("dev-idp|paul"));
    let marked = list.get(&jemma).unwrap();
    assert!(marked.sign_in_again, "her row says she must sign in again");

    // A restart still restores paul, and jemma stays listed.
    let restarted = stack.session_without_browser();
    match restarted.restore().await.unwrap() {
        Restored::SignedIn(profile) => assert_eq!(profile.sub, "dev-idp|paul"),
        other => panic!("{other:?}"),
    }
    assert_eq!(restarted.accounts().await.unwrap().accounts.len(), 2);

    // Signing in again clears the mark.
    session.login(add("jemma"), |_| {}).await.unwrap();
    let list = session.accounts().await.unwrap();
    assert!(!list.get(&jemma).unwrap().sign_in_again);
    assert_eq!(list.active.as_deref(), Some(jemma.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_of_one_account_leaves_the_others() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    session.login(add("paul"), |_| {}).await.unwrap();
    session.login(add("sebastian"), |_| {}).await.unwrap();
    let jemma = entry_of(&session, "Jemma Doe").await;
    let base = stack.base();
    let jemma_token = base
        .account("dev-idp|jemma")
        .refresh_token()
        .await
        .unwrap()
        .unwrap();

    // Not the active one: sebastian stays signed in.
    let revocations = stack.idp.counters().revocations.load(Ordering::SeqCst);
    let outcome = session.logout_account(&jemma).await;
    assert!(outcome.revoked);
    assert!(stack.idp.counters().revocations.load(Ordering::SeqCst) > revocations);
    assert!(
        base.account("dev-idp|jemma")
            .vault()
            .read()
            .await
            .unwrap()
            .is_none(),
        "her entry is deleted"
    );
    let refused = reqwest::Client::new()
        .post(format!("{}oauth/token", stack.idp.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", jemma_token.secret().as_str()),
            ("client_id", "latchkey-desktop"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        400,
        "her token was revoked at the provider"
    );
    assert_eq!(api_sees(&stack, &session).await, "sebastian");
    let list = session.accounts().await.unwrap();
    assert_eq!(list.accounts.len(), 2);
    assert!(list.get(&jemma).is_none());

    // The active one: the next in the list becomes active, and a restore brings it in.
    session.logout().await;
    assert!(!session.is_signed_in());
    let list = session.accounts().await.unwrap();
    assert_eq!(list.accounts.len(), 1);
    assert_eq!(list.active().unwrap().sub.as_deref(), Some("dev-idp|paul"));
    match session.restore().await.unwrap() {
        Restored::SignedIn(profile) => assert_eq!(profile.sub, "dev-idp|paul"),
        other => panic!("{other:?}"),
    }

    // All: nothing is left, and the record is gone.
    session.login(add("jemma"), |_| {}).await.unwrap();
    let outcome = session.logout_all().await;
    assert!(outcome.revoked && !outcome.revocation_pending);
    assert!(session.accounts().await.unwrap().accounts.is_empty());
    assert!(!session.accounts_file().unwrap().exists());
    for user in ["jemma", "paul", "sebastian"] {
        let entry = base.account(&format!("dev-idp|{user}"));
        assert!(entry.vault().read().await.unwrap().is_none(), "{user}");
    }
    assert!(matches!(
        stack.session_without_browser().restore().await.unwrap(),
        Restored::NothingStored
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_single_entry_of_an_older_version_is_taken_over_without_a_sign_in() {
    let stack = stack().await;
    let session = stack.session();
    session.login(as_user("jemma"), |_| {}).await.unwrap();
    // Make the vault look as an older version left it: the session in `client@issuer`, no
    // record of accounts.
    let per_account = session.store();
    let entry = per_account.load().await.unwrap();
    let old = SessionStore::for_app(&stack.app, stack.idp.issuer(), &stack.config.client_id);
    old.save(&entry).await.unwrap();
    per_account.save(&StoredEntry::default()).await.unwrap();
    std::fs::remove_file(session.accounts_file().unwrap()).unwrap();
    drop(session);

    let grants = code_grants(&stack);
    let upgraded = stack.session();
    match upgraded.restore().await.unwrap() {
        Restored::SignedIn(profile) => assert_eq!(profile.sub, "dev-idp|jemma"),
        other => panic!("{other:?}"),
    }
    assert_eq!(code_grants(&stack), grants, "nobody signed in again");
    let list = upgraded.accounts().await.unwrap();
    assert_eq!(list.accounts.len(), 1);
    let account = list.active().unwrap();
    assert_eq!(
        account.entry,
        old.entry_name(),
        "kept where it was, not copied"
    );
    assert_eq!(account.label(), "Jemma Doe");
    assert!(
        old.refresh_token().await.unwrap().is_some(),
        "the refreshed token went back to the old entry"
    );

    // A second account goes beside it; switching back to the old one works.
    upgraded.login(add("paul"), |_| {}).await.unwrap();
    upgraded.switch_account(old.entry_name()).await.unwrap();
    assert_eq!(api_sees(&stack, &upgraded).await, "jemma");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_and_the_cli_follow_each_others_switches_and_refresh_their_own_entry() {
    let stack = stack().await;
    let app = stack.session();
    app.login(as_user("jemma"), |_| {}).await.unwrap();
    app.login(add("paul"), |_| {}).await.unwrap();
    let jemma = entry_of(&app, "Jemma Doe").await;
    let paul = entry_of(&app, "Paul Smith").await;

    // The CLI (another process) starts on paul, and switches to jemma.
    let cli = stack.session_without_browser();
    match cli.restore().await.unwrap() {
        Restored::SignedIn(profile) => assert_eq!(profile.sub, "dev-idp|paul"),
        other => panic!("{other:?}"),
    }
    cli.switch_account(&jemma).await.unwrap();

    // Before the app follows, its own refresh renews paul's entry, never jemma's.
    let base = stack.base();
    let jemma_before = base.account("dev-idp|jemma").refresh_token().await.unwrap();
    let paul_before = base.account("dev-idp|paul").refresh_token().await.unwrap();
    let (_, generation) = app.access_token().await.unwrap();
    app.refresh(generation).await.unwrap();
    assert_eq!(app.profile().unwrap().sub, "dev-idp|paul");
    let jemma_after = base.account("dev-idp|jemma").refresh_token().await.unwrap();
    let paul_after = base.account("dev-idp|paul").refresh_token().await.unwrap();
    assert!(
        jemma_before.unwrap().secret() == jemma_after.unwrap().secret(),
        "jemma's entry untouched by the app's refresh"
    );
    assert!(
        paul_before.unwrap().secret() != paul_after.unwrap().secret(),
        "paul's token rotated in paul's entry"
    );
    assert_eq!(stack.idp.counters().refresh_reuse.load(Ordering::SeqCst), 0);

    // The app follows the record: now on jemma, and its calls carry her token.
    match app.follow_accounts().await {
        Some(Ok(Restored::SignedIn(profile))) => assert_eq!(profile.sub, "dev-idp|jemma"),
        other => panic!("{other:?}"),
    }
    assert_eq!(api_sees(&stack, &app).await, "jemma");
    assert!(
        app.follow_accounts().await.is_none(),
        "nothing more to follow"
    );

    // The app switches back; the CLI's next command (a new process) is on paul.
    app.switch_account(&paul).await.unwrap();
    let next_cli = stack.session_without_browser();
    match next_cli.restore().await.unwrap() {
        Restored::SignedIn(profile) => assert_eq!(profile.sub, "dev-idp|paul"),
        other => panic!("{other:?}"),
    }
    // The CLI signs out of paul: the app follows to jemma, the one left.
    next_cli.logout().await;
    match app.follow_accounts().await {
        Some(Ok(Restored::SignedIn(profile))) => assert_eq!(profile.sub, "dev-idp|jemma"),
        other => panic!("{other:?}"),
    }
    // And of everything: the app is signed out.
    stack.session_without_browser().logout_all().await;
    assert!(matches!(
        app.follow_accounts().await,
        Some(Ok(Restored::NothingStored))
    ));
    assert!(!app.is_signed_in());
    assert_eq!(stack.idp.counters().refresh_reuse.load(Ordering::SeqCst), 0);
}
