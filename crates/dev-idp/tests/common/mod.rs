//! What the dev IdP's HTTP tests share: a client that follows no redirect, the authorization
//! URL a native client sends, and the login form's transaction id.
// Each test binary uses its own part of this.
#![allow(dead_code)]

use latchkey_dev_idp::{DESKTOP_CLIENT_ID, DevIdp};

/// The loopback redirect the tests register with (any port is accepted).
pub const REDIRECT: &str = "http://127.0.0.1:49999/callback";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `/authorize` for the desktop client, with a PKCE S256 challenge when one is given.
pub fn authorize_url(idp: &DevIdp, challenge: Option<&str>, redirect: &str) -> String {
    let mut url = url::Url::parse(&format!("{}authorize", idp.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", DESKTOP_CLIENT_ID)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile offline_access")
        .append_pair("state", "st");
    if let Some(challenge) = challenge {
        url.query_pairs_mut()
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
    }
    url.into()
}

/// The transaction id a login or sign-up form carries.
pub fn form_tx(page: &str) -> String {
    page.split("name=\"tx\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries its transaction id")
        .to_owned()
}
