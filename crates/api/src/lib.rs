//! The sample protected API that Latchkey calls: the counterpart of Auth0's Express sample.
//!
//! `GET /api/messages/public` needs nothing; `/api/messages/protected` needs a valid access
//! token for the configured audience; `/api/messages/admin` also needs the permission
//! `read:admin-messages`. Tokens are RS256 JWTs checked against the issuer's JWKS.
//!
//! `/api/todos` keeps each caller's own todo list (SQLite or PostgreSQL, keyed by the
//! token's `sub`); `/api/profile` reads and changes the caller's names through the
//! provider's management API, with this API's own confidential client. `/api/me` says what
//! the caller may do (the token's permissions, and Auth0 roles); `/api/users` lists the
//! provider's users for callers holding `read:users`.

pub mod auth;
pub mod error;
pub mod management;
pub mod profile;
pub mod store;
pub mod todos;
pub mod users;
mod verified;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;

pub use auth::{ClaimSet, Claims, Dpop, DpopPolicy, TokenValidator, bearer_token};
pub use error::ApiError;
pub use management::{Management, ManagementConfig};
pub use store::Store;

/// The permission the admin message needs.
pub const ADMIN_PERMISSION: &str = "read:admin-messages";
/// The port the dev stack's API listens on by default.
pub const DEFAULT_PORT: u16 = 6060;

#[derive(Clone)]
pub struct AppState {
    pub validator: Arc<TokenValidator>,
    /// Todo storage; without it `/api/todos` answers 503.
    pub store: Option<Store>,
    /// The management client; without it `/api/profile` answers 503.
    pub management: Option<Arc<Management>>,
    /// DPoP-bound tokens (RFC 9449): allowed beside bearer tokens by default.
    pub dpop: Arc<Dpop>,
}

impl AppState {
    pub fn new(issuer: &str, audience: &str) -> Self {
        Self {
            validator: Arc::new(TokenValidator::new(issuer, audience)),
            store: None,
            management: None,
            dpop: Arc::new(Dpop::new(DpopPolicy::Allowed)),
        }
    }

    /// Takes DPoP as `dpop` says (required, with nonces, at a public URL).
    pub fn with_dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = Arc::new(dpop);
        self
    }

    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    pub fn with_management(mut self, config: ManagementConfig) -> Self {
        self.management = Some(Arc::new(Management::new(config)));
        self
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/messages/public", get(public_message))
        .route("/api/messages/protected", get(protected_message))
        .route("/api/messages/admin", get(admin_message))
        .route("/api/todos", get(todos::list).post(todos::create))
        .route(
            "/api/todos/{id}",
            get(todos::get).patch(todos::update).delete(todos::delete),
        )
        .route("/api/profile", get(profile::get).patch(profile::update))
        .route("/api/me", get(users::me))
        .route("/api/users", get(users::list))
        // Bodies here are a title or a name: 64 KiB is plenty.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// The three messages' body: built from borrowed text, so an answer allocates nothing but
/// its bytes.
#[derive(Serialize)]
struct Message<'a> {
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

async fn public_message() -> Json<Message<'static>> {
    Json(Message {
        message: "The API doesn't require an access token to share this message.",
        sub: None,
    })
}

async fn protected_message(claims: Claims) -> Response {
    Json(Message {
        message: "The API successfully validated your access token.",
        sub: Some(&claims.sub),
    })
    .into_response()
}

async fn admin_message(claims: Claims) -> Result<Response, ApiError> {
    claims.require(ADMIN_PERMISSION)?;
    Ok(Json(Message {
        message: "The API successfully recognized you as an admin.",
        sub: Some(&claims.sub),
    })
    .into_response())
}
