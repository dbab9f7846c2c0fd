//! The dev IdP remembers what a person did across restarts: a sign-up, a changed last name and
//! its signing keys live in its SQLite data file; without one, a restart forgets them.

use std::path::{Path, PathBuf};

use latchkey_dev_idp::{DevIdp, ManagementClient, Settings};
use serde_json::{Value, json};

mod common;

use common::{REDIRECT, authorize_url, form_tx, http};

/// A fresh folder for this test's data file.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "latchkey-dev-idp-{name}-{}",
        latchkey_dev_idp::random_token(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn with_data(data: Option<&Path>) -> (Settings, ManagementClient) {
    Settings {
        data: data.map(Path::to_owned),
        ..Settings::default()
    }
    .with_management()
}

/// Opens the provider's login (or sign-up) screen; returns the form's transaction id.
async fn form(idp: &DevIdp, signup: bool) -> String {
    let (challenge, _) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let mut url = authorize_url(idp, Some(challenge.as_str()), REDIRECT);
    if signup {
        url.push_str("&screen_hint=signup");
    }
    form_tx(&http().get(url).send().await.unwrap().text().await.unwrap())
}

/// Signs up through the provider's form; the answer's status (303: signed in).
async fn sign_up(idp: &DevIdp, username: &str, name: &str, password: &str) -> u16 {
    let tx = form(idp, true).await;
    http()
        .post(format!("{}signup", idp.issuer()))
        .form(&[
            ("tx", tx.as_str()),
            ("username", username),
            ("name", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Whether `username` / `password` signs in (the provider sends the browser back with a code).
async fn signs_in(idp: &DevIdp, username: &str, password: &str) -> bool {
    let tx = form(idp, false).await;
    let response = http()
        .post(format!("{}login", idp.issuer()))
        .form(&[
            ("tx", tx.as_str()),
            ("action", "login"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    response.status() == 303
}

async fn management_token(idp: &DevIdp, client: &ManagementClient) -> String {
    let answer: Value = http()
        .post(format!("{}oauth/token", idp.issuer()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
            ("audience", idp.management_audience().as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn kids(idp: &DevIdp) -> Vec<String> {
    let jwks: Value = http()
        .get(format!("{}.well-known/jwks.json", idp.issuer()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_on_the_same_data_file_keeps_a_sign_up_a_new_last_name_and_the_keys() {
    let dir = scratch("restart");
    let data = dir.join("nested/dev-idp.sqlite3");
    let (settings, client) = with_data(Some(&data));
    let idp = DevIdp::start(settings).await.unwrap();

    assert_eq!(
        sign_up(&idp, "newbie", "Ada Newbie", "longer1pass").await,
        303,
        "the sign-up went through"
    );
    let token = management_token(&idp, &client).await;
    let patched = http()
        .patch(format!("{}api/v2/users/dev-idp|newbie", idp.issuer()))
        .bearer_auth(&token)
        .json(&json!({ "user_metadata": { "family_name": "Lovelace" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    assert!(signs_in(&idp, "jemma", "todo").await);
    let rotated = idp.rotate_keys().unwrap();
    let token = management_token(&idp, &client).await;
    let before = kids(&idp).await;
    let addr = idp.addr();
    idp.stop().await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the data file holds private keys: owner only"
        );
    }
    let raw = std::fs::read(&data).unwrap();
    let needle = b"longer1pass";
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "no password is stored as typed"
    );

    let (settings, _) = with_data(Some(&data));
    let idp = DevIdp::start(Settings { addr, ..settings }).await.unwrap();
    let newbie = idp
        .user("newbie")
        .expect("the sign-up survived the restart");
    assert_eq!(newbie.display_name(), "Ada Lovelace");
    assert_eq!(newbie.logins_count, 1);
    assert!(signs_in(&idp, "newbie", "longer1pass").await);
    assert!(!signs_in(&idp, "newbie", "wrong1pass").await);
    assert_eq!(idp.user("newbie").unwrap().logins_count, 2);
    let jemma = idp.user("jemma").unwrap();
    assert_eq!(jemma.logins_count, 1, "jemma's sign-in was counted once");
    assert!(jemma.last_login.is_some());
    assert_eq!(kids(&idp).await, before, "the same signing keys");
    assert_eq!(before[0], rotated, "the rotated key is still current");
    // A token signed before the restart still verifies: the issuer is the same (same port)
    // and so is its key.
    let read = http()
        .get(format!("{}api/v2/users/dev-idp|newbie", idp.issuer()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "the old management token is still good");
    idp.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_data_file_a_restart_forgets_sign_ups() {
    let (settings, _) = with_data(None);
    let idp = DevIdp::start(settings.clone()).await.unwrap();
    assert_eq!(sign_up(&idp, "newbie", "", "longer1pass").await, 303);
    assert!(idp.user("newbie").is_some());
    idp.stop().await;
    let idp = DevIdp::start(settings).await.unwrap();
    assert!(idp.user("newbie").is_none());
    assert!(
        idp.user("jemma").is_some(),
        "the demo users are always there"
    );
}

#[tokio::test]
async fn a_data_file_that_is_not_one_is_named_in_the_error() {
    let dir = scratch("broken");
    let data = dir.join("dev-idp.sqlite3");
    std::fs::write(
        &data,
        b"this is not a SQLite database, it is a note to self",
    )
    .unwrap();
    let (settings, _) = with_data(Some(&data));
    let err = DevIdp::start(settings).await.err().expect("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains(&data.display().to_string()),
        "names the file: {message}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
