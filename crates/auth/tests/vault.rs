//! The vault against the real Secret Service (started by `cargo xtask test`).

use latchkey_auth::{
    Binding, CachedProfile, RefreshToken, SessionStore, StoredEntry, StoredSession, Vault,
    WINDOWS_CREDENTIAL_UNITS,
};

const ISSUER: &str = "http://127.0.0.1:1/vault-test/";

#[tokio::test]
async fn round_trip_through_the_secret_service() {
    let vault = Vault::for_client(ISSUER, "round-trip");
    vault.delete().await.expect("the vault answers");
    assert!(vault.read().await.unwrap().is_none());
    vault.write("first".into()).await.unwrap();
    vault.write("second".into()).await.unwrap();
    assert_eq!(vault.read().await.unwrap().as_deref(), Some("second"));

    // Another client's entry is a different entry.
    let other = Vault::for_client(ISSUER, "someone-else");
    assert!(other.read().await.unwrap().is_none());

    vault.delete().await.unwrap();
    assert!(vault.read().await.unwrap().is_none());
    vault.delete().await.expect("deleting nothing is fine");
}

fn long_session(token: &str) -> StoredEntry {
    StoredEntry {
        session: Some(StoredSession {
            refresh_token: RefreshToken::new(token.to_owned()),
            binding: Some(Binding {
                issuer: ISSUER.into(),
                client_id: "windows-path".into(),
                sub: "user|1".into(),
                auth_time: Some(1_700_000_000),
                audiences: vec!["windows-path".into()],
                nonce: Some("n".into()),
            }),
            profile: Some(CachedProfile {
                name: Some("Jörg Dœ".into()),
                email: Some("jorg@example.com".into()),
                picture: None,
            }),
            dpop_key: None,
        }),
        to_revoke: Vec::new(),
    }
}

/// Keycloak and Entra ID issue refresh tokens of several KB; the Windows Credential Manager
/// holds 2,560 bytes a credential. The entry is split the way it is on Windows, here into
/// real Secret Service items, and read back whole.
#[tokio::test]
async fn a_4_kb_refresh_token_round_trips_split_the_way_windows_stores_it() {
    let vault =
        Vault::for_client(ISSUER, "windows-path").with_credential_units(WINDOWS_CREDENTIAL_UNITS);
    let store = SessionStore::for_client(ISSUER, "windows-path").with_vault(vault.clone());
    store.save(&StoredEntry::default()).await.unwrap();
    let token: String = (0..4096)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    store.save(&long_session(&token)).await.unwrap();

    let back = store.load().await.unwrap();
    assert_eq!(
        back.session.as_ref().unwrap().refresh_token.secret(),
        &token
    );
    assert_eq!(
        back.session.unwrap().profile.unwrap().name.as_deref(),
        Some("Jörg Dœ")
    );
    // It really is several items, each within the Windows limit.
    let first = secret_tool_lookup("windows-path@http://127.0.0.1:1/vault-test/");
    assert!(
        first.starts_with("latchkey-split:"),
        "{}",
        &first[..first.len().min(20)]
    );
    let second = secret_tool_lookup("windows-path@http://127.0.0.1:1/vault-test/#1");
    assert!(!second.is_empty() && second.encode_utf16().count() * 2 <= 2560);

    // A shorter session afterwards leaves no stale parts behind.
    store.save(&long_session("short")).await.unwrap();
    assert_eq!(
        store.refresh_token().await.unwrap().unwrap().secret(),
        "short"
    );
    assert_eq!(
        secret_tool_lookup("windows-path@http://127.0.0.1:1/vault-test/#1"),
        ""
    );
    store.save(&StoredEntry::default()).await.unwrap();
    assert!(vault.read().await.unwrap().is_none());
}

#[tokio::test]
async fn an_entry_from_before_the_session_format_is_read_as_the_session() {
    let vault = Vault::for_client(ISSUER, "legacy");
    vault.write("a-legacy-refresh-token".into()).await.unwrap();
    let store = SessionStore::for_client(ISSUER, "legacy");
    let session = store
        .load()
        .await
        .unwrap()
        .session
        .expect("migrated on read");
    assert_eq!(session.refresh_token.secret(), "a-legacy-refresh-token");
    assert!(session.binding.is_none());
    vault.delete().await.unwrap();
}

fn secret_tool_lookup(username: &str) -> String {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "Latchkey", "username", username])
        .output()
        .expect("secret-tool (libsecret-tools) is needed; `cargo xtask test` installs it");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_secret_service_really_holds_the_entry() {
    // Read back through libsecret's own tool, so the test does not trust our store alone.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let vault = Vault::for_client(ISSUER, "secret-tool");
    rt.block_on(vault.write("visible-to-libsecret".into()))
        .unwrap();
    let seen = secret_tool_lookup("secret-tool@http://127.0.0.1:1/vault-test/");
    rt.block_on(vault.delete()).unwrap();
    assert_eq!(seen, "visible-to-libsecret");
}
