//! `dev-idp`: the local OpenID Provider of Latchkey's development stack. Not for production.
//!
//! Run: `cargo run -p latchkey-dev-idp -- [--port 6080] [--data FILE | --in-memory]`. It binds
//! 127.0.0.1 only, prints its issuer, and serves the demo users jemma, paul and sebastian
//! (password `todo`). Users, sign-ups, name changes and the signing keys are kept in a SQLite
//! file (by default `dev-idp.sqlite3` in the user's data directory, under `latchkey/`), so a
//! restart keeps them; `--in-memory` forgets everything at exit.
//! `POST /operator/rotate-keys` makes a fresh signing key current.

use std::net::SocketAddr;
use std::path::PathBuf;

use latchkey_dev_idp::{DEFAULT_PORT, DevIdp, ManagementClient, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut port = DEFAULT_PORT;
    let mut data = Some(default_data_file());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().unwrap_or_default();
                port = value.parse().map_err(|_| {
                    anyhow::anyhow!("--port wants a number from 0 to 65535, not {value:?}")
                })?;
            }
            "--data" => match args.next().filter(|v| !v.is_empty()) {
                Some(path) => data = Some(PathBuf::from(path)),
                None => anyhow::bail!("--data wants the path of a SQLite file"),
            },
            "--in-memory" => data = None,
            "-h" | "--help" => {
                println!(
                    "usage: dev-idp [--port N] [--data FILE | --in-memory]\n  \
                     --port N      default {DEFAULT_PORT}; binds 127.0.0.1 only\n  \
                     --data FILE   keeps users and keys there (default {})\n  \
                     --in-memory   keeps nothing after exit",
                    default_data_file().display()
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
        data: data.clone(),
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
    match &data {
        Some(path) => println!("Users and keys are kept in {}", path.display()),
        None => println!("In memory: users and keys are forgotten at exit"),
    }
    tokio::signal::ctrl_c().await?;
    idp.stop().await;
    Ok(())
}

/// `latchkey/dev-idp.sqlite3` in the user's data directory (the working directory if the OS
/// names none).
fn default_data_file() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("latchkey")
        .join("dev-idp.sqlite3")
}
