//! The CLI against a second OpenID Provider nobody here wrote: Django OAuth Toolkit (DOT
//! 3.4.1 on Django 5.2, oauthlib pinned to 3.x: DOT 3.4.1 fails at its device authorization
//! endpoint with oauthlib 4.0.1, oauthlib#949), started on loopback by this test from
//! `tests/interop/django/provider.py` in the virtual environment `cargo xtask test` makes.
//!
//! DOT shows what "any OpenID Provider" meets in the field: its revocation endpoint is only
//! in its RFC 8414 metadata, its device endpoint is advertised nowhere, its access tokens are
//! opaque, its stock ID token carries only `sub`, and its device grant is plain OAuth.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Django OAuth Toolkit on an ephemeral loopback port, stopped when dropped.
struct Dot {
    _server: tokio::process::Child,
    _data: TempDir,
    issuer: String,
    origin: String,
    /// The one port client `latchkey-fixed-ports` is registered for.
    fixed_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Dot {
    async fn start() -> Self {
        let python = std::env::var_os("LATCHKEY_DOT_PYTHON").expect(
            "LATCHKEY_DOT_PYTHON is not set: run `cargo xtask test`, which makes Django OAuth Toolkit's virtual environment",
        );
        // `cargo test` names this crate's folder at run time; the one compiled in may be
        // another clone's when clones share a target directory.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        );
        let site = crate_dir.join("../../tests/interop/django/provider.py");
        let (port, fixed_port) = (free_port(), free_port());
        let data = TempDir(std::env::temp_dir().join(format!("latchkey-dot-{port}")));
        std::fs::create_dir_all(&data.0).unwrap();
        let mut server = tokio::process::Command::new(python)
            .arg(site)
            .arg(port.to_string())
            .arg(&data.0)
            .arg(fixed_port.to_string())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Django OAuth Toolkit's Python runs");
        let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(issuer) = line.strip_prefix("ready ") {
                    return issuer.to_owned();
                }
            }
            panic!("Django OAuth Toolkit exited before it was ready");
        })
        .await
        .expect("Django OAuth Toolkit starts");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let origin = issuer.trim_end_matches("/o").to_owned();
        Dot {
            _server: server,
            _data: data,
            issuer,
            origin,
            fixed_port,
        }
    }

    /// `auth_config.json` for `client_id`, with `extra` fields, in a fresh directory.
    fn config(&self, client_id: &str, extra: serde_json::Value) -> std::path::PathBuf {
        let mut json = serde_json::json!({
            "issuer": self.issuer,
            "clientId": client_id,
            // DOT has no offline_access scope, and issues refresh tokens without it.
            "scopes": "openid profile email",
            "apiUrl": self.origin,
        });
        json.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let dir = std::env::temp_dir().join(format!("latchkey-dot-config-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("auth_config.json");
        std::fs::write(&path, json.to_string()).unwrap();
        path
    }

    /// How many of `user`'s access and refresh tokens DOT's database holds as live.
    async fn live_tokens(&self, user: &str) -> (u64, u64) {
        let live: serde_json::Value =
            reqwest::get(format!("{}/test/live-tokens?user={user}", self.origin))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        (
            live["access"].as_u64().unwrap(),
            live["refresh"].as_u64().unwrap(),
        )
    }

    /// Whether DOT still honours `refresh_token` for `client_id`.
    async fn accepts(&self, client_id: &str, refresh_token: &str) -> bool {
        reqwest::Client::new()
            .post(format!("{}/token/", self.issuer))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client_id),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_renewal_api_and_revoked_sign_out_at_django_oauth_toolkit() {
    require_browser();
    let dot = Dot::start().await;
    let c = &dot.config("latchkey-any-port", serde_json::json!({}));
    let stored = async || {
        latchkey_test_support::active_store(None, &dot.issuer, "latchkey-any-port")
            .await
            .refresh_token()
            .await
            .unwrap()
            .map(|t| t.secret().clone())
    };
    let mut printed = Vec::new();

    // DOT matches http://127.0.0.1/callback on whatever port the CLI listens on.
    let (ok, out, err) = cli(c, &["login", "--user", "alice"], &[]).await;
    assert!(ok, "{out}{err}");
    // DOT's stock ID token says only `sub`: no name is made up from it.
    assert!(
        out.contains("Signed in (no name from the provider)"),
        "{out}"
    );
    let first = stored().await.expect("the refresh token is in the vault");
    printed.extend([out, err]);

    // Two more processes restore the session; DOT rotates the refresh token each time.
    let mut tokens = vec![first.clone()];
    for _ in 0..2 {
        let (ok, out, err) = cli(c, &["status"], &[]).await;
        assert!(ok && out.contains("Signed in"), "{out}{err}");
        tokens.push(stored().await.expect("still stored"));
        printed.extend([out, err]);
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "each restore rotated the refresh token");
    assert!(
        !dot.accepts("latchkey-any-port", &first).await,
        "DOT refuses a rotated-out token"
    );

    // A resource DOT protects takes the CLI's (opaque) access token.
    let whoami = format!("{}/api/whoami", dot.origin);
    let (ok, out, err) = cli(c, &["call", &whoami], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains(r#""user": "alice""#), "{out}");
    printed.extend([out, err]);

    // doctor finds the revocation endpoint in DOT's RFC 8414 metadata and says there is no
    // device endpoint anywhere.
    let (code, out, err) = cli_code(c, &["doctor"], &[]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let revoke = format!(
        "ok   token revocation endpoint (RFC 7009): {}/revoke_token/ (from oauth-authorization-server (RFC 8414))",
        dot.issuer
    );
    assert!(out.contains(&revoke), "{out}");
    assert!(
        out.contains("warn the provider advertises no device authorization endpoint"),
        "{out}"
    );
    assert!(
        out.contains("ok   the provider lists every configured scope"),
        "{out}"
    );
    printed.extend([out, err]);
    // Latchkey's default scopes ask for offline_access, which DOT does not have: doctor says
    // so before a sign-in ends in invalid_scope.
    let defaults = dot.config(
        "latchkey-any-port",
        serde_json::json!({ "scopes": "openid profile email offline_access" }),
    );
    let (_, out, _) = cli_code(&defaults, &["doctor"], &[]).await;
    assert!(
        out.contains("does not list the scope(s) offline_access in scopes_supported"),
        "{out}"
    );

    let last = stored().await.unwrap();
    assert_ne!(dot.live_tokens("alice").await, (0, 0));
    let (ok, out, err) = cli(c, &["logout"], &[]).await;
    assert!(ok && out.contains("Signed out."), "{out}{err}");
    assert!(
        !err.contains("did not confirm"),
        "DOT confirmed the revocation: {err}"
    );
    assert!(stored().await.is_none());
    assert_eq!(
        dot.live_tokens("alice").await,
        (0, 0),
        "DOT's database holds no live token of alice's"
    );
    assert!(!dot.accepts("latchkey-any-port", &last).await);
    printed.extend([out, err]);

    for text in &printed {
        for token in &tokens {
            assert!(
                !text.contains(token.as_str()),
                "a refresh token was printed"
            );
        }
        assert!(!text.contains("eyJ"), "a JWT was printed: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_registered_for_one_port_and_the_end_of_the_provider_session() {
    require_browser();
    let dot = Dot::start().await;
    let c = &dot.config(
        "latchkey-fixed-ports",
        serde_json::json!({ "loopbackPorts": [dot.fixed_port] }),
    );
    let (ok, out, err) = cli(c, &["login", "--user", "alice"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(
        err.contains(&format!(
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A{}%2Fcallback",
            dot.fixed_port
        )),
        "the sign-in used the registered port: {err}"
    );
    // RP-initiated logout with the ID token as the hint: DOT asks to confirm (its default,
    // OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT), the person does, and DOT sends the browser
    // back to the CLI's registered loopback port.
    let (ok, out, err) = cli(c, &["logout", "--provider"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Signed out at the provider too."),
        "{out}{err}"
    );
    assert_eq!(dot.live_tokens("alice").await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_device_grant_at_django_oauth_toolkit_shows_its_code_and_refuses_a_sign_in_without_an_id_token()
 {
    require_browser();
    let dot = Dot::start().await;
    // DOT advertises its device endpoint nowhere: the configuration gives it.
    let c = &dot.config(
        "latchkey-device",
        serde_json::json!({ "deviceAuthorizationEndpoint": format!("{}/device-authorization/", dot.issuer) }),
    );
    let mut login = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey-cli"))
        .args(["login", "--device"])
        .env("LATCHKEY_CONFIG", c)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(login.stderr.take().unwrap()).lines();
    let mut seen: Vec<String> = Vec::new();
    while !seen.iter().any(|l| l.starts_with("(or open ")) {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the CLI shows the code")
            .unwrap()
            .unwrap_or_else(|| panic!("ended early: {seen:?}"));
        seen.push(line);
    }
    let after = |heading: &str| {
        seen.iter()
            .skip_while(|l| !l.contains(heading))
            .skip(1)
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .unwrap_or_else(|| panic!("no line after {heading:?}: {seen:?}"))
    };
    let uri = after("On any device, open:");
    let shown = after("and enter the code:");
    assert_eq!(uri, format!("{}/device/", dot.issuer));
    // The person types the code as shown; DOT matches it exactly.
    let typed = format!("{uri}?user_code={shown}");
    let browsed =
        tokio::process::Command::new(std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").unwrap())
            .arg(&typed)
            .env("SCRIPTED_BROWSER_USER", "alice")
            .output()
            .await
            .unwrap();
    let browsed_log = String::from_utf8_lossy(&browsed.stderr);
    assert!(browsed.status.success(), "{browsed_log}");
    assert!(
        browsed_log.contains("/device-grant-status/"),
        "DOT took the code as shown and the person approved: {browsed_log}"
    );
    let out = tokio::time::timeout(Duration::from_secs(60), login.wait_with_output())
        .await
        .expect("the CLI notices the approval")
        .unwrap();
    let mut rest = String::from_utf8_lossy(&out.stderr).into_owned();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    // DOT's device grant is plain OAuth: no ID token, so no one is signed in, and the
    // message says what is missing rather than "not valid".
    assert!(!out.status.success());
    assert!(
        rest.contains("the provider returned no ID token for this device sign-in"),
        "{rest}"
    );
    assert!(!rest.contains("not valid"), "{rest}");
    let vault = latchkey_test_support::active_store(None, &dot.issuer, "latchkey-device").await;
    assert!(vault.refresh_token().await.unwrap().is_none());
}

fn require_browser() {
    assert!(
        std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").is_some(),
        "run with `cargo xtask test`"
    );
}
