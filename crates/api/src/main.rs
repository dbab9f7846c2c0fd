//! `latchkey-api`: the sample protected API of Latchkey's development stack.
//!
//! Run: `cargo run -p latchkey-api -- [--port 6060] [--issuer URL] [--audience ID]
//! [--database URL] [--dpop-only] [--dpop-nonce]` (or `LATCHKEY_API_ISSUER` /
//! `LATCHKEY_API_AUDIENCE` / `DATABASE_URL`). DPoP-bound tokens (RFC 9449) are taken beside
//! bearer tokens; `--dpop-only` refuses bearer tokens, `--dpop-nonce` demands server nonces.
//! Binds 127.0.0.1; defaults match the dev IdP. Todos go to a SQLite file in the user's data
//! directory unless `DATABASE_URL` names another (`sqlite://…`, `postgres://…`).
//!
//! The profile endpoints need this API's own confidential client at the provider:
//! `MANAGEMENT_CLIENT_ID` and `MANAGEMENT_CLIENT_SECRET` (and `MANAGEMENT_AUDIENCE` when it
//! is not `{issuer}api/v2/`). Without them `/api/profile` answers 503.

use std::net::SocketAddr;

use latchkey_api::{AppState, DEFAULT_PORT, Dpop, DpopPolicy, ManagementConfig, Store, app};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut port = DEFAULT_PORT;
    let mut issuer =
        std::env::var("LATCHKEY_API_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:6080/".into());
    let mut audience =
        std::env::var("LATCHKEY_API_AUDIENCE").unwrap_or_else(|_| "urn:latchkey:sample-api".into());
    let mut database = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let (mut dpop_only, mut dpop_nonce) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--port" => {
                let v = value()?;
                port = v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--port wants a number, not {v:?}"))?;
            }
            "--issuer" => issuer = value()?,
            "--audience" => audience = value()?,
            "--database" => database = Some(value()?),
            "--dpop-only" => dpop_only = true,
            "--dpop-nonce" => dpop_nonce = true,
            "-h" | "--help" => {
                println!(
                    "usage: latchkey-api [--port N] [--issuer URL] [--audience ID] [--database URL] [--dpop-only] [--dpop-nonce]"
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let store = match &database {
        Some(url) => Store::connect(url).await.map_err(|e| {
            anyhow::anyhow!("cannot open the database named by DATABASE_URL / --database: {e}")
        })?,
        None => {
            let path = dirs::data_dir()
                .unwrap_or_else(|| std::path::PathBuf::from("."))
                .join("latchkey")
                .join("sample-api.sqlite3");
            Store::sqlite_file(&path)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?
        }
    };
    let mut dpop = Dpop::new(if dpop_only {
        DpopPolicy::Required
    } else {
        DpopPolicy::Allowed
    });
    if dpop_nonce {
        dpop = dpop.with_nonces(300);
    }
    let mut state = AppState::new(&issuer, &audience)
        .with_store(store)
        .with_dpop(dpop);
    match (
        std::env::var("MANAGEMENT_CLIENT_ID"),
        std::env::var("MANAGEMENT_CLIENT_SECRET"),
    ) {
        (Ok(client_id), Ok(client_secret)) if !client_secret.is_empty() => {
            state = state.with_management(ManagementConfig {
                issuer: issuer.clone(),
                client_id,
                client_secret: oauth2::ClientSecret::new(client_secret),
                audience: std::env::var("MANAGEMENT_AUDIENCE").ok(),
            });
        }
        _ => tracing::warn!(
            "no MANAGEMENT_CLIENT_ID / MANAGEMENT_CLIENT_SECRET: /api/profile will answer 503"
        ),
    }
    println!("Latchkey sample API on http://{addr} (issuer {issuer}, audience {audience})");
    axum::serve(listener, app(state)).await?;
    Ok(())
}
