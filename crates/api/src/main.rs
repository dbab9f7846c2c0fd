//! `latchkey-api`: the sample protected API of Latchkey's development stack.
//!
//! Run: `cargo run -p latchkey-api -- [--port 6060] [--issuer URL] [--audience ID]`
//! (or `LATCHKEY_API_ISSUER` / `LATCHKEY_API_AUDIENCE`). Binds 127.0.0.1; defaults match
//! the dev IdP.

use std::net::SocketAddr;

use latchkey_api::{AppState, DEFAULT_PORT, app};

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
            "-h" | "--help" => {
                println!("usage: latchkey-api [--port N] [--issuer URL] [--audience ID]");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    println!("Latchkey sample API on http://{addr} (issuer {issuer}, audience {audience})");
    axum::serve(listener, app(AppState::new(&issuer, &audience))).await?;
    Ok(())
}
