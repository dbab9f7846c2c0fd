//! The vault against the real Secret Service (started by `cargo xtask test`).

use latchkey_auth::{RefreshToken, Vault};

#[tokio::test]
async fn round_trip_through_the_secret_service() {
    let vault = Vault::for_client("http://127.0.0.1:1/vault-test/", "round-trip");
    vault.delete().await.expect("the vault answers");
    assert!(vault.load().await.unwrap().is_none());
    vault
        .store(&RefreshToken::new("first".into()))
        .await
        .unwrap();
    vault
        .store(&RefreshToken::new("second".into()))
        .await
        .unwrap();
    assert_eq!(vault.load().await.unwrap().unwrap().secret(), "second");

    // Another client's entry is a different entry.
    let other = Vault::for_client("http://127.0.0.1:1/vault-test/", "someone-else");
    assert!(other.load().await.unwrap().is_none());

    vault.delete().await.unwrap();
    assert!(vault.load().await.unwrap().is_none());
    vault.delete().await.expect("deleting nothing is fine");
}

#[test]
fn the_secret_service_really_holds_the_entry() {
    // Read back through libsecret's own tool, so the test does not trust our store alone.
    let Ok(status) = std::process::Command::new("secret-tool")
        .arg("--version")
        .status()
    else {
        panic!("secret-tool (libsecret-tools) is needed; `cargo xtask test` installs it");
    };
    let _ = status;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let vault = Vault::for_client("http://127.0.0.1:1/vault-test/", "secret-tool");
    rt.block_on(vault.store(&RefreshToken::new("visible-to-libsecret".into())))
        .unwrap();
    let out = std::process::Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "Latchkey",
            "username",
            "secret-tool@http://127.0.0.1:1/vault-test/",
        ])
        .output()
        .unwrap();
    rt.block_on(vault.delete()).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "visible-to-libsecret");
}
