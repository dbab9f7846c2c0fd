//! The CLI as a person runs it: a real process, the dev stack on loopback, the real vault.

mod common;

use common::*;
use latchkey_dev_idp::DESKTOP_CLIENT_ID;

#[tokio::test(flavor = "multi_thread")]
async fn login_status_call_logout() {
    assert!(
        std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").is_some(),
        "run with `cargo xtask test`"
    );
    let s = stack().await;
    let c = &s.config_path;
    let vault = latchkey_auth::SessionStore::for_client(s.idp.issuer(), DESKTOP_CLIENT_ID)
        .account("dev-idp|jemma");
    // Everything any command printed, and every refresh token the vault held along the way
    // (each command renews the session, and the provider rotates the token each time).
    let mut printed: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let stored = async || {
        vault
            .refresh_token()
            .await
            .unwrap()
            .map(|t| t.secret().clone())
    };

    let (ok, out, err) = cli(c, &["login", "--user", "jemma"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Signed in as Jemma Doe <jemma@example.com>"),
        "{out}"
    );
    assert!(
        err.contains("/authorize?"),
        "the sign-in URL is shown: {err}"
    );
    printed.extend([out, err]);
    tokens.push(stored().await.expect("the CLI stored the refresh token"));

    let (ok, out, err) = cli(c, &["status"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("Signed in as Jemma Doe"), "{out}");
    printed.extend([out, err]);
    tokens.push(stored().await.expect("still stored"));

    let protected = format!("{}/api/messages/protected", s.api_url);
    let (ok, out, err) = cli(c, &["call", &protected], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("successfully validated"), "{out}");
    printed.extend([out, err]);
    tokens.push(stored().await.expect("still stored"));
    let admin = format!("{}/api/messages/admin", s.api_url);
    let (ok, out, err) = cli(c, &["call", &admin], &[]).await;
    assert!(!ok && err.contains("HTTP 403"), "{out}{err}");
    printed.extend([out, err]);
    let last = stored().await.expect("still stored");
    tokens.push(last.clone());
    tokens.dedup();
    assert!(
        tokens.len() >= 3,
        "the provider rotated the token on the way"
    );

    let (ok, out, err) = cli(c, &["logout"], &[]).await;
    assert!(ok, "{out}{err}");
    printed.extend([out, err]);
    assert!(stored().await.is_none(), "logout deleted the vault entry");
    assert!(
        !s.idp.refresh_token_is_active(&last),
        "logout revoked the token"
    );
    let (ok, out, err) = cli(c, &["status"], &[]).await;
    assert!(!ok && out.contains("Not signed in"), "{out}");
    printed.extend([out, err]);

    assert_eq!(printed.len(), 12, "every command's output is scanned");
    for text in &printed {
        for token in &tokens {
            assert!(
                !text.contains(token.as_str()),
                "a refresh token was printed"
            );
        }
        assert!(
            !text.contains("eyJ"),
            "something like a JWT was printed: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_config_names_the_file_and_the_problem() {
    let dir = std::env::temp_dir().join(format!("latchkey-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let cases = [
        ("{ \"issuer\": ", "line 1"),
        (
            r#"{ "issuer": "http://idp.example.com/", "clientId": "x", "apiUrl": "https://a.example" }"#,
            "\"issuer\" must be an https URL",
        ),
        (
            r#"{ "issuer": "https://idp.example.com/", "apiUrl": "https://a.example" }"#,
            "\"clientId\" is missing",
        ),
        (
            r#"{ "issuer": "https://idp.example.com/", "clientId": "x", "apiUrl": "https://a.example", "redirect": "popup" }"#,
            "\"redirect\" must be \"loopback\" or \"deep-link\", not \"popup\"",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = dir.join(format!("auth_config_{i}.json"));
        std::fs::write(&path, text).unwrap();
        let (ok, _, err) = cli(&path, &["status"], &[]).await;
        assert!(!ok);
        assert!(err.contains(expected), "{err}");
        assert!(
            err.contains(&path.display().to_string()),
            "names the file: {err}"
        );
    }
    let (ok, _, err) = cli(&dir.join("missing.json"), &["status"], &[]).await;
    assert!(
        !ok && err.contains("cannot read the configuration file"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_configuration_it_says_where_the_file_goes() {
    let home = std::env::temp_dir().join(format!("latchkey-cli-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let _cleanup = TempDir(home.clone());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey-cli"))
        .arg("status")
        .env_remove("LATCHKEY_CONFIG")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .await
        .unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success());
    let expected = home.join("config/latchkey/auth_config.json");
    assert!(
        err.contains("no sign-in provider is configured")
            && err.contains(&expected.display().to_string()),
        "names the file to write: {err}"
    );
    assert!(
        !err.contains("127.0.0.1"),
        "never falls back to the dev stack: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_vault_the_cli_says_so_clearly() {
    let s = stack().await;
    let no_bus = [(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/latchkey-no-bus",
    )];
    let (ok, _, err) = cli(&s.config_path, &["status"], &no_bus).await;
    assert!(!ok);
    assert!(err.contains("no credential vault is available"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_filter_that_is_not_one_is_named_and_the_command_still_runs() {
    let s = stack().await;
    let bad = [("LATCHKEY_LOG", "latchkey_auth=loud")];
    let (_, out, err) = cli(&s.config_path, &["status"], &bad).await;
    assert!(
        err.contains("LATCHKEY_LOG=\"latchkey_auth=loud\" is not a log filter"),
        "{err}"
    );
    assert!(
        out.contains("Not signed in"),
        "status still answered: {out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_processes_started_at_the_same_moment_all_keep_the_session() {
    let s = signed_in("jemma").await;
    let c = &s.config_path;

    let at_once: Vec<_> = (0..5)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { cli(&c, &["status"], &[]).await })
        })
        .collect();
    for status in at_once {
        let (ok, out, err) = status.await.unwrap();
        assert!(ok && out.contains("Signed in as Jemma Doe"), "{out}{err}");
    }
    assert_eq!(
        reuse(&s.idp),
        0,
        "no process replayed a rotated refresh token"
    );
    let (ok, out, err) = cli(c, &["status"], &[]).await;
    assert!(
        ok && out.contains("Signed in as Jemma Doe"),
        "the session survived: {out}{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_desktop_engine_and_the_cli_take_turns_on_one_session() {
    let s = signed_in("paul").await;
    let c = &s.config_path;
    // The desktop app's engine, in this process, restores the same session.
    let config = latchkey_auth::Config::load(c).unwrap();
    let desktop =
        latchkey_auth::Session::with_browser(config, std::sync::Arc::new(latchkey_auth::NoBrowser));
    assert!(matches!(
        desktop.restore().await,
        Ok(latchkey_auth::Restored::SignedIn(_))
    ));
    for round in 0..3 {
        let (ok, out, err) = cli(c, &["status"], &[]).await;
        assert!(
            ok && out.contains("Paul Smith"),
            "round {round}: {out}{err}"
        );
        // The window renews after the CLI rotated the token: it must use the new one.
        let profile = desktop
            .reload_profile()
            .await
            .expect("the window stays signed in");
        assert_eq!(profile.display_name(), "Paul Smith");
    }
    assert_eq!(reuse(&s.idp), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_while_the_provider_is_down_says_offline_and_keeps_the_session() {
    let mut s = signed_in("jemma").await;
    let c = s.config_path.clone();
    s.idp.suspend().await;
    let (code, out, err) = cli_code(&c, &["status"], &[]).await;
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(out.contains("Offline; session kept for Jemma Doe"), "{out}");
    s.idp.resume().await.unwrap();
    let (ok, out, err) = cli(&c, &["status"], &[]).await;
    assert!(ok && out.contains("Signed in as Jemma Doe"), "{out}{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_with_provider_ends_the_browser_session_named_by_the_id_token() {
    let s = signed_in("jemma").await;
    let c = &s.config_path;
    let jemma = s.idp.user("jemma").unwrap().sub;
    let no_browser = [
        ("DISPLAY", ""),
        ("WAYLAND_DISPLAY", ""),
        ("BROWSER", ""),
        ("SSH_CONNECTION", "192.0.2.10 50000 192.0.2.20 22"),
    ];
    let mut printed = Vec::new();

    // A plain logout leaves the provider's browser session alone, and says how to end it.
    let (ok, out, err) = cli(c, &["logout"], &[]).await;
    assert!(ok && out.contains("Signed out of Jemma Doe."), "{out}{err}");
    assert!(
        err.contains("`latchkey-cli logout --provider` ends it too"),
        "{err}"
    );
    assert!(s.idp.ended_sessions().is_empty(), "no browser was opened");
    printed.extend([out, err]);

    // With --provider the browser goes to the end-session page with a current ID token as
    // the hint, and the provider sends it back to the CLI's loopback.
    let (ok, out, err) = cli(c, &["login", "--user", "jemma"], &[]).await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(c, &["logout", "--provider"], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Signed out of Jemma Doe.\nSigned out at the provider too."),
        "{out}{err}"
    );
    assert_eq!(
        s.idp.ended_sessions(),
        [latchkey_dev_idp::EndedSession {
            hinted_sub: Some(jemma),
            returned: true
        }]
    );
    printed.extend([out, err]);

    // Over SSH no browser here can be opened: the URL is printed, without the ID token.
    let (ok, out, err) = cli(c, &["login", "--user", "jemma"], &[]).await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(c, &["logout", "--provider"], &no_browser).await;
    assert!(ok, "{out}{err}");
    assert!(err.contains("No browser can be opened here"), "{err}");
    assert!(
        err.contains("/oidc/logout?client_id=latchkey-desktop"),
        "{err}"
    );
    assert_eq!(s.idp.ended_sessions().len(), 1, "nothing more was opened");
    printed.extend([out, err]);
    for text in &printed {
        assert!(
            !text.contains("id_token_hint") && !text.contains("eyJ"),
            "no ID token is printed: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_the_provider_did_not_confirm_is_retried_at_the_next_run() {
    let s = signed_in("jemma").await;
    let c = &s.config_path;
    let store = latchkey_auth::SessionStore::for_client(s.idp.issuer(), DESKTOP_CLIENT_ID)
        .account("dev-idp|jemma");
    let token = store.refresh_token().await.unwrap().unwrap();

    s.idp.set_revocation_unavailable(true);
    let (ok, out, err) = cli(c, &["logout"], &[]).await;
    assert!(ok && out.contains("Signed out of Jemma Doe."), "{out}{err}");
    assert!(
        err.contains("has not confirmed revoking the session yet"),
        "{err}"
    );
    let (code, out, _) = cli_code(c, &["status"], &[]).await;
    assert_eq!(
        code,
        Some(1),
        "not signed in with a token kept to revoke: {out}"
    );
    assert!(s.idp.refresh_token_is_active(token.secret()));

    s.idp.set_revocation_unavailable(false);
    let (_, out, err) = cli_code(c, &["status"], &[]).await;
    assert!(out.contains("Not signed in"), "{out}");
    assert!(err.contains("confirmed an earlier sign-out"), "{err}");
    assert!(!s.idp.refresh_token_is_active(token.secret()));
    assert!(store.vault().read().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_says_what_works_and_what_would_stop_a_sign_in() {
    let s = signed_in("jemma").await;
    let c = &s.config_path;
    let store = latchkey_auth::SessionStore::for_client(s.idp.issuer(), DESKTOP_CLIENT_ID)
        .account("dev-idp|jemma");
    let token = store.refresh_token().await.unwrap().unwrap();

    let (code, out, err) = cli_code(c, &["doctor"], &[]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "ok   the sign-in listens on a free port each time: register http://127.0.0.1/callback",
        "(from LATCHKEY_CONFIG) reads fine",
        "issuer matches; PKCE S256 supported",
        "ok   token revocation endpoint (RFC 7009): http://127.0.0.1:",
        "/oauth/revoke (from openid-configuration)",
        "ok   the provider offers the iss response parameter (RFC 9207)",
        "ok   the clock agrees with the provider's",
        "ok   the credential vault (the Secret Service",
        "ok   loopback listens on 127.0.0.1",
        "ok   a session is stored for Jemma Doe",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        !out.contains(token.secret().as_str()) && !out.contains("eyJ"),
        "{out}"
    );

    // A broken vault: a sign-in could not be kept, so doctor fails and says what to do.
    let no_bus = [(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/latchkey-no-bus",
    )];
    let (code, out, err) = cli_code(c, &["doctor"], &no_bus).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("FAIL the credential vault"), "{out}");
    assert!(out.contains("→ start and unlock a Secret Service"), "{out}");

    // A provider that is down is a failure too.
    drop(s.idp);
    let (code, out, _) = cli_code(c, &["doctor"], &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL cannot reach the provider's discovery document"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_with_a_device_code_over_ssh_and_the_session_is_kept() {
    use tokio::io::AsyncBufReadExt;
    let s = stack().await;
    // An SSH session without a display: the device flow is chosen by itself, and says why.
    let mut login = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey-cli"))
        .args(["login"])
        .env("LATCHKEY_CONFIG", &s.config_path)
        .env("SSH_CONNECTION", "192.0.2.10 50000 192.0.2.20 22")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("BROWSER")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(login.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let complete = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .expect("the CLI shows the code")
            .unwrap()
            .unwrap_or_else(|| panic!("ended early: {seen:?}"));
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("(or open ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let text = seen.join("\n");
    assert!(text.contains("SSH session without a display"), "{text}");
    assert!(
        text.contains("set BROWSER to a browser that works here, or give --browser"),
        "{text}"
    );
    let (uri, code) = complete.split_once("?user_code=").unwrap();
    assert!(text.contains(uri) && text.contains(code), "{text}");
    let approved = reqwest::Client::new()
        .post(uri)
        .form(&[
            ("user_code", code),
            ("username", "jemma"),
            ("password", "todo"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), login.wait_with_output())
        .await
        .expect("the CLI notices the approval")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Signed in as Jemma Doe"),
        "{stdout}"
    );
    let (ok, out, err) = cli(&s.config_path, &["status"], &[]).await;
    assert!(ok && out.contains("Signed in as Jemma Doe"), "{out}{err}");
    assert!(!stdout.contains("eyJ") && !text.contains("eyJ"));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_after_the_provider_revoked_the_session_says_why_and_what_to_run() {
    let s = signed_in("jemma").await;
    let store = latchkey_auth::SessionStore::for_client(s.idp.issuer(), DESKTOP_CLIENT_ID)
        .account("dev-idp|jemma");
    let token = store.refresh_token().await.unwrap().unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}oauth/revoke", s.idp.issuer()))
        .form(&[
            ("token", token.secret().as_str()),
            ("client_id", DESKTOP_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let (code, out, err) = cli_code(&s.config_path, &["status"], &[]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains(
            "Not signed in: your provider ended the session (it was revoked or has expired)"
        ) && out.contains("Run `latchkey-cli login`."),
        "one sentence with the reason and what to do: {out}{err}"
    );
    let (code, out, _) = cli_code(&s.config_path, &["status"], &[]).await;
    assert_eq!(code, Some(1));
    assert!(
        out.contains("Not signed in. Run `latchkey-cli login`."),
        "said once; after that nothing is stored: {out}"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_browser_named_in_browser_is_used_over_ssh_instead_of_a_device_code() {
    let s = stack().await;
    let dir =
        TempDir(std::env::temp_dir().join(format!("latchkey-cli-browser-{}", s.idp.addr().port())));
    std::fs::create_dir_all(&dir.0).unwrap();
    // The person's own browser: it notes that it ran, then browses as a person would.
    let marker = dir.0.join("opened");
    let browser = dir.0.join("my-browser");
    let scripted = std::env::var("LATCHKEY_SCRIPTED_BROWSER").expect("run with `cargo xtask test`");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\necho \"$1\" > '{}'\nexec '{scripted}' \"$1\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let browser_env = format!("{}:w3m", browser.display());
    let (code, out, err) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        cli_code(
            &s.config_path,
            &["login", "--user", "jemma"],
            &[
                ("SSH_CONNECTION", "192.0.2.10 50000 192.0.2.20 22"),
                ("DISPLAY", ""),
                ("WAYLAND_DISPLAY", ""),
                ("BROWSER", &browser_env),
            ],
        ),
    )
    .await
    .expect("the browser sign-in ends");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Signed in as Jemma Doe"), "{out}{err}");
    assert!(
        !err.contains("Signing in with a code"),
        "no device flow: {err}"
    );
    let opened = std::fs::read_to_string(&marker).expect("BROWSER's program was started");
    assert!(opened.contains("/authorize?"), "{opened}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_session_at_trace_level_keeps_every_token_out_of_the_log_and_the_vault_entry() {
    let s = stack().await;
    let c = &s.config_path;
    let trace = [("LATCHKEY_LOG", "latchkey_auth=trace")];
    let store = latchkey_auth::SessionStore::for_client(s.idp.issuer(), DESKTOP_CLIENT_ID)
        .account("dev-idp|jemma");
    let mut logged = Vec::new();
    let mut tokens = Vec::new();
    let protected = format!("{}/api/messages/protected", s.api_url);
    for args in [
        vec!["login", "--user", "jemma"],
        vec!["status"],
        vec!["call", protected.as_str()],
    ] {
        let (ok, out, err) = cli(c, &args, &trace).await;
        assert!(ok, "{args:?}: {out}{err}");
        logged.push(err);
        let token = store.refresh_token().await.unwrap().expect("stored");
        tokens.push(token.secret().clone());
        // The raw entry: the refresh token and its binding, never an access or ID token.
        let raw = store.vault().read().await.unwrap().expect("an entry");
        assert!(raw.contains(token.secret().as_str()), "{args:?}");
        assert!(
            !raw.contains("eyJ"),
            "{args:?}: a JWT (access or ID token) is in the vault entry"
        );
    }
    let (ok, out, err) = cli(c, &["logout"], &trace).await;
    assert!(ok, "{out}{err}");
    logged.push(err);
    // Latchkey's own lines are the ones this promise is about; each step logs one.
    let own: Vec<&str> = logged
        .iter()
        .flat_map(|l| l.lines())
        .filter(|line| line.contains("latchkey_auth"))
        .collect();
    for step in ["signed in", "session renewed", "signed out"] {
        assert!(
            own.iter().any(|line| line.contains(step)),
            "no {step:?} line at trace level: {own:#?}"
        );
    }
    for line in own {
        assert!(!line.contains("eyJ"), "a JWT in the log: {line}");
        for token in &tokens {
            assert!(!line.contains(token.as_str()), "a refresh token in the log");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_code_is_shown_exactly_as_the_provider_issued_it() {
    use tokio::io::AsyncBufReadExt;
    // A provider that issues "BCDFGHJK" and accepts nothing else (django-oauth-toolkit).
    let s = stack_with(latchkey_dev_idp::Settings {
        device_codes_exact: true,
        ..latchkey_dev_idp::Settings::default()
    })
    .await;
    let mut login = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey-cli"))
        .args(["login", "--device"])
        .env("LATCHKEY_CONFIG", &s.config_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(login.stderr.take().unwrap()).lines();
    let mut seen: Vec<String> = Vec::new();
    let (uri, shown) = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .expect("the CLI shows the code")
            .unwrap()
            .unwrap_or_else(|| panic!("ended early: {seen:?}"));
        seen.push(line.clone());
        if line.starts_with("(or open ") {
            let uri = seen
                .iter()
                .find(|l| l.trim_start().starts_with("http"))
                .expect("the verification URL")
                .trim()
                .to_owned();
            let after = seen
                .iter()
                .position(|l| l.starts_with("and enter the code:"))
                .expect("the code's line");
            let code = seen[after + 1..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .expect("the code")
                .trim()
                .to_owned();
            break (uri, code);
        }
    };
    assert!(
        shown.chars().all(|c| c.is_ascii_alphanumeric()),
        "shown as issued, with nothing added: {shown:?}"
    );
    // The person types what they see.
    let approved = reqwest::Client::new()
        .post(&uri)
        .form(&[
            ("user_code", shown.as_str()),
            ("username", "jemma"),
            ("password", "todo"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    let page = approved.text().await.unwrap();
    assert!(
        !page.contains("unknown"),
        "the provider took the code: {page}"
    );
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), login.wait_with_output())
        .await
        .expect("the CLI notices the approval")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Signed in as Jemma Doe"),
        "{stdout}"
    );
}
