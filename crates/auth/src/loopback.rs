//! The loopback redirect listener (RFC 8252 §7.3, §8.3).
//!
//! Binds `127.0.0.1` on an ephemeral port — never `0.0.0.0`, never `localhost`; `[::1]` when
//! IPv4 loopback cannot be bound (§7.3) — and serves one sign-in: a request with a wrong
//! `state` gets a 400 page and one to another path a 404, and the flow goes on; the right one is handed to the flow, the browser is redirected to a clean URL (so the
//! code leaves the address bar and the history) showing the outcome, and the listener closes.
//!
//! (Over 400 lines with its tests: the listener, the waiting deep link and the result pages are
//! one piece; the tests that pin every refusal live beside them.)

use openidconnect::CsrfToken;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

use crate::answer::{parse_answer, state_matches};

/// How long the listener stays up after the callback for the browser to fetch the result page.
const RESULT_PAGE_GRACE: Duration = Duration::from_secs(5);
/// How long the callback request may wait for the flow to finish the code exchange.
const EXCHANGE_WAIT: Duration = Duration::from_secs(60);
/// The longest request target (path and query) read; the answer itself is capped lower.
pub const MAX_REQUEST_TARGET: usize = 16 * 1024;
/// The most header fields, and header bytes, a request may carry. A browser sends ~20 fields.
pub const MAX_HEADER_FIELDS: usize = 64;
/// The most header bytes the loopback listener reads of one request.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// A bound, not yet serving, loopback listener.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    addr: SocketAddr,
    app_name: Arc<str>,
}

impl LoopbackListener {
    /// Binds `127.0.0.1:0`, or `[::1]:0` where IPv4 loopback cannot be bound.
    pub async fn bind() -> std::io::Result<Self> {
        Self::bind_loopback(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// Binds the first free port of `ports` (on 127.0.0.1, or `[::1]` where IPv4 loopback is
    /// unavailable), for providers that compare the redirect URI port included; an empty list
    /// binds an ephemeral port. Fails, naming the ports, when every one is taken.
    pub async fn bind_ports(ports: &[u16]) -> std::io::Result<Self> {
        if ports.is_empty() {
            return Self::bind().await;
        }
        for &port in ports {
            match Self::bind_loopback_port(IpAddr::V4(Ipv4Addr::LOCALHOST), port).await {
                Ok(listener) => return Ok(listener),
                Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
                    tracing::info!("loopback port {port} is taken; trying the next");
                }
                Err(err) => return Err(err),
            }
        }
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!(
                "every configured loopback port is taken ({}): close the program using them, or add another port to \"loopbackPorts\" in auth_config.json and register its callback URL at your provider",
                list.join(", ")
            ),
        ))
    }

    async fn bind_loopback(ipv4: IpAddr) -> std::io::Result<Self> {
        Self::bind_loopback_port(ipv4, 0).await
    }

    /// Binds `ipv4` on `port` (0: ephemeral), falling back to `[::1]` when that fails for any
    /// reason but the port being taken (RFC 8252 §7.3: either loopback literal will do).
    async fn bind_loopback_port(ipv4: IpAddr, port: u16) -> std::io::Result<Self> {
        let listener = match TcpListener::bind(SocketAddr::from((ipv4, port))).await {
            Ok(listener) => listener,
            Err(v4) if v4.kind() != std::io::ErrorKind::AddrInUse => {
                match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
                    Ok(listener) => {
                        tracing::info!("IPv4 loopback unavailable ({v4}); listening on [::1]");
                        listener
                    }
                    Err(v6) => {
                        return Err(std::io::Error::new(
                            v4.kind(),
                            format!("neither 127.0.0.1 ({v4}) nor [::1] ({v6}) can be bound"),
                        ));
                    }
                }
            }
            Err(v4) => return Err(v4),
        };
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            app_name: Arc::from(crate::VAULT_SERVICE),
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}/callback`, or `http://[::1]:{port}/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}/callback", self.addr)
    }

    /// Names `app` on the pages the browser is shown (Latchkey by default).
    pub fn for_app(mut self, app: &str) -> Self {
        self.app_name = Arc::from(app);
        self
    }

    /// Starts serving; only a callback carrying `expected_state` is handed to the flow (it
    /// is compared in constant time, and its `Debug` never shows it).
    pub fn serve(self, expected_state: CsrfToken) -> CallbackServer {
        let (callback_tx, callback_rx) = oneshot::channel();
        let shared = Arc::new(PendingCallback {
            app: self.app_name.clone(),
            expected_state,
            callback_tx: Mutex::new(Some(callback_tx)),
            outcome: Mutex::new(None),
            page_served: Notify::new(),
        });
        let (stop_tx, stop_rx) = oneshot::channel::<bool>();
        let app = Router::new()
            .route("/callback", get(callback))
            .route("/done", get(done))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(
                shared.clone(),
                within_limits,
            ))
            .with_state(shared.clone());
        let waiter = shared.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                tokio::select! {
                    _ = waiter.page_served.notified() => {}
                    answered = stop_rx => {
                        // After a callback, let the browser fetch its result page first.
                        if answered.unwrap_or(false) {
                            let _ = tokio::time::timeout(RESULT_PAGE_GRACE, waiter.page_served.notified()).await;
                        }
                    }
                }
            };
            if let Err(err) = axum::serve(self.listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!("loopback listener failed: {err}");
            }
        });
        CallbackServer {
            callback_rx: Some(callback_rx),
            stop_tx: Some(stop_tx),
            answered: false,
            task: Some(task),
        }
    }
}

/// The provider's answer, as the callback request carried it.
pub struct Callback {
    /// The query parameters of the redirect (`code`, `state`, `iss`, or `error`).
    pub params: HashMap<String, String>,
    /// The browser request waiting for its page; a deep link has none.
    reply: Option<oneshot::Sender<PageOutcome>>,
}

impl Callback {
    /// An answer that came by another way than this listener (a deep link): no page to serve.
    pub(crate) fn without_page(params: HashMap<String, String>) -> Self {
        Self {
            params,
            reply: None,
        }
    }

    /// Tells the waiting browser how the sign-in ended.
    pub fn respond(self, outcome: PageOutcome) {
        if let Some(reply) = self.reply {
            let _ = reply.send(outcome);
        }
    }
}

/// What the browser tab shows at the end.
#[derive(Clone, Debug)]
pub enum PageOutcome {
    /// The sign-in completed: the tab may be closed.
    SignedIn,
    /// The provider ended its own session too (RP-Initiated Logout).
    SignedOut,
    /// The sign-in failed, with the sentence to show.
    Failed(String),
}

/// A serving listener. Dropping it closes the port.
pub struct CallbackServer {
    callback_rx: Option<oneshot::Receiver<Callback>>,
    stop_tx: Option<oneshot::Sender<bool>>,
    answered: bool,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CallbackServer {
    /// Waits for the one callback with the right `state`.
    pub async fn callback(&mut self) -> Option<Callback> {
        let rx = self.callback_rx.take()?;
        let callback = rx.await.ok();
        self.answered = callback.is_some();
        callback
    }

    /// Closes the listener and waits until the port is released.
    pub async fn close(mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn stop(&mut self) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(self.answered);
        }
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The callback a serving listener waits for: the state it must carry, where to hand it, and
/// the result page once the flow has answered.
struct PendingCallback {
    /// The app's name, as the pages show it.
    app: Arc<str>,
    expected_state: CsrfToken,
    callback_tx: Mutex<Option<oneshot::Sender<Callback>>>,
    outcome: Mutex<Option<PageOutcome>>,
    page_served: Notify,
}

async fn callback(
    State(shared): State<Arc<PendingCallback>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parse_answer(query.as_deref().unwrap_or_default()) {
        Ok(params) => params,
        Err(why) => {
            let app = &shared.app;
            return page(
                app,
                StatusCode::BAD_REQUEST,
                "Not a sign-in answer",
                &format!(
                    "{app} did not take this link: {why}. Start the sign-in again from {app}."
                ),
            );
        }
    };
    if !state_matches(&params, shared.expected_state.secret()) {
        let app = &shared.app;
        return page(
            app,
            StatusCode::BAD_REQUEST,
            "Not this sign-in",
            &format!(
                "This link does not belong to the sign-in {app} is waiting for. Start the sign-in again from {app}."
            ),
        );
    }
    let Some(tx) = crate::lock_unpoisoned(&shared.callback_tx).take() else {
        return page(
            &shared.app,
            StatusCode::BAD_REQUEST,
            "Already done",
            "This sign-in was already completed. You can close this tab.",
        );
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    if tx
        .send(Callback {
            params,
            reply: Some(reply_tx),
        })
        .is_err()
    {
        let app = &shared.app;
        return page(
            app,
            StatusCode::GONE,
            "Sign-in ended",
            &format!("{app} stopped waiting for this sign-in. Start it again from {app}."),
        );
    }
    let outcome = match tokio::time::timeout(EXCHANGE_WAIT, reply_rx).await {
        Ok(Ok(outcome)) => outcome,
        _ => PageOutcome::Failed(format!(
            "{app} did not finish the sign-in. Return to {app} and try again.",
            app = shared.app
        )),
    };
    *crate::lock_unpoisoned(&shared.outcome) = Some(outcome);
    // 303 to a URL without the code, so it leaves the address bar and the history.
    Redirect::to("/done").into_response()
}

async fn done(State(shared): State<Arc<PendingCallback>>) -> Response {
    let outcome = crate::lock_unpoisoned(&shared.outcome).clone();
    let app = &shared.app;
    let response = match outcome {
        Some(PageOutcome::SignedIn) => page(
            app,
            StatusCode::OK,
            "You are signed in",
            &format!("You are signed in. Return to {app} — you can close this tab."),
        ),
        Some(PageOutcome::SignedOut) => page(
            app,
            StatusCode::OK,
            "You are signed out",
            &format!(
                "You are signed out at your provider too. Return to {app} — you can close this tab."
            ),
        ),
        Some(PageOutcome::Failed(why)) => page(app, StatusCode::OK, "Sign-in failed", &why),
        None => {
            return page(
                app,
                StatusCode::NOT_FOUND,
                "Nothing here",
                "There is no sign-in result to show.",
            );
        }
    };
    shared.page_served.notify_one();
    response
}

/// Refuses requests no browser sends to a callback: an oversize target, too many or too
/// large headers. The listener goes on serving, so the real callback still arrives.
async fn within_limits(
    State(shared): State<Arc<PendingCallback>>,
    request: Request,
    next: Next,
) -> Response {
    let app = &shared.app;
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target > MAX_REQUEST_TARGET {
        return page(
            app,
            StatusCode::URI_TOO_LONG,
            "Not a sign-in answer",
            &format!(
                "This address is far longer than a sign-in answer. Start the sign-in again from {app}."
            ),
        );
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADER_FIELDS || header_bytes > MAX_HEADER_BYTES {
        return page(
            app,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Not a sign-in answer",
            &format!(
                "This request carries more headers than a browser sends. Start the sign-in again from {app}."
            ),
        );
    }
    next.run(request).await
}

async fn not_found(State(shared): State<Arc<PendingCallback>>) -> Response {
    let app = &shared.app;
    page(
        app,
        StatusCode::NOT_FOUND,
        "Nothing here",
        &format!("{app} listens here only for its sign-in callback, not this address."),
    )
}

fn page(app: &str, status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · {app}</title>\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>body{{font-family:system-ui,sans-serif;\
display:flex;justify-content:center;padding:4rem 1rem;background:#f4f5f7;color:#1d2330}}main{{background:#fff;\
border-radius:12px;padding:2rem;max-width:26rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}}h1{{font-size:1.3rem}}\
@media (prefers-color-scheme:dark){{body{{background:#14171c;color:#e6e9ef}}main{{background:#1e232b}}}}</style></head>\
<body><main><h1>{title}</h1><p>{message}</p></main></body></html>",
        title = escape(title),
        app = escape(app),
        message = escape(message)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A deep-link sign-in waiting for its answer.
pub(crate) struct WaitingLink {
    pub(crate) state: String,
    pub(crate) answer: oneshot::Sender<Callback>,
}

/// Where the provider's answer comes from.
pub(crate) enum Answer {
    Loopback(CallbackServer),
    DeepLink(oneshot::Receiver<Callback>),
}

impl Answer {
    pub(crate) async fn next(&mut self) -> Option<Callback> {
        match self {
            Self::Loopback(server) => server.callback().await,
            Self::DeepLink(rx) => rx.await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_loopback_ip_literal_on_an_ephemeral_port() {
        let listener = LoopbackListener::bind().await.unwrap();
        let addr = listener.local_addr();
        assert_eq!(addr.ip(), std::net::IpAddr::from(Ipv4Addr::LOCALHOST));
        assert_ne!(addr.port(), 0);
        assert_eq!(
            listener.redirect_uri(),
            format!("http://127.0.0.1:{}/callback", addr.port())
        );
    }

    #[tokio::test]
    async fn falls_back_to_ipv6_loopback_when_ipv4_cannot_be_bound() {
        // 192.0.2.1 (TEST-NET-1) is on no interface here, so binding it fails as a machine
        // without IPv4 loopback does; nothing is sent anywhere.
        let listener = LoopbackListener::bind_loopback(IpAddr::from([192, 0, 2, 1]))
            .await
            .unwrap();
        let addr = listener.local_addr();
        assert_eq!(addr.ip(), IpAddr::from(Ipv6Addr::LOCALHOST));
        assert_eq!(
            listener.redirect_uri(),
            format!("http://[::1]:{}/callback", addr.port())
        );
        let base = format!("http://{addr}");
        let mut server = listener.serve(CsrfToken::new("s".into()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let browser = tokio::spawn(async move {
            http.get(format!("{base}/callback?code=c&state=s"))
                .send()
                .await
                .unwrap()
        });
        let callback = server
            .callback()
            .await
            .expect("the callback arrives over IPv6");
        assert_eq!(callback.params["code"], "c");
        callback.respond(PageOutcome::SignedIn);
        assert_eq!(browser.await.unwrap().status(), 303);
    }

    #[tokio::test]
    async fn a_port_list_binds_the_first_free_port_and_names_them_all_when_none_is() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = taken.local_addr().unwrap().port();
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listener = LoopbackListener::bind_ports(&[busy, free]).await.unwrap();
        assert_eq!(
            listener.redirect_uri(),
            format!("http://127.0.0.1:{free}/callback")
        );
        let err = LoopbackListener::bind_ports(&[busy, free])
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&format!("({busy}, {free})")), "{message}");
        assert!(message.contains("loopbackPorts"), "{message}");
    }

    #[tokio::test]
    async fn wrong_state_and_path_get_400_and_the_right_callback_still_arrives() {
        let listener = LoopbackListener::bind().await.unwrap();
        let base = format!("http://{}", listener.local_addr());
        let mut server = listener.serve(CsrfToken::new("expected-state".into()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for (url, status) in [
            (format!("{base}/callback?code=x&state=wrong"), 400),
            (format!("{base}/callback?code=x"), 400),
            (format!("{base}/favicon.ico"), 404),
            (format!("{base}/other?code=x&state=expected-state"), 404),
        ] {
            let response = http.get(&url).send().await.unwrap();
            assert_eq!(response.status(), status, "{url}");
            assert_eq!(response.headers()["referrer-policy"], "no-referrer");
        }
        let browser = tokio::spawn({
            let http = http.clone();
            let url = format!("{base}/callback?code=the-code&state=expected-state");
            async move { http.get(url).send().await.unwrap() }
        });
        let callback = server.callback().await.expect("the right callback arrives");
        assert_eq!(callback.params["code"], "the-code");
        callback.respond(PageOutcome::SignedIn);
        let redirect = browser.await.unwrap();
        assert_eq!(redirect.status(), 303);
        assert_eq!(redirect.headers()["location"], "/done");
        let page = http.get(format!("{base}/done")).send().await.unwrap();
        assert!(page.text().await.unwrap().contains("You are signed in"));
        server.close().await;
        assert!(
            http.get(format!("{base}/done")).send().await.is_err(),
            "the port is closed afterwards"
        );
    }
}
