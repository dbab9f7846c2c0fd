//! `dev-idp`: the local OpenID Provider of Latchkey's development stack. Not for production.
//!
//! Run: `cargo run -p latchkey-dev-idp -- [--port 6080]`. It binds 127.0.0.1 only, prints its
//! issuer, and serves the demo users jemma, paul and sebastian (password `todo`).
//! `POST /operator/rotate-keys` makes a fresh signing key current.

use std::net::SocketAddr;

use latchkey_dev_idp::{DEFAULT_PORT, DevIdp, ManagementClient, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut port = DEFAULT_PORT;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().unwrap_or_default();
                port = value.parse().map_err(|_| {
                    anyhow::anyhow!("--port wants a number from 0 to 65535, not {value:?}")
                })?;
            }
            "-h" | "--help" => {
                println!(
                    "usage: dev-idp [--port N]   (default {DEFAULT_PORT}; binds 127.0.0.1 only)"
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    // The sample API's management credentials come from whoever starts the stack
    // (`cargo xtask dev-stack` makes a fresh secret each run); none, no management API.
    let management = match (
        std::env::var("DEV_IDP_MANAGEMENT_CLIENT_ID"),
        std::env::var("DEV_IDP_MANAGEMENT_CLIENT_SECRET"),
    ) {
        (Ok(client_id), Ok(client_secret)) if !client_secret.is_empty() => Some(ManagementClient {
            client_id,
            client_secret,
        }),
        _ => None,
    };
    let settings = Settings {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        management,
        ..Settings::default()
    };
    let idp = DevIdp::start(settings)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the dev IdP on 127.0.0.1:{port}: {e}"))?;
    println!(
        "Latchkey dev IdP (not for production) — issuer {}",
        idp.issuer()
    );
    println!("Demo users: jemma, paul, sebastian (admin); password: todo");
    tokio::signal::ctrl_c().await?;
    idp.stop().await;
    Ok(())
}
