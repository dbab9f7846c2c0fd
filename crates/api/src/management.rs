//! The provider's management API, reached with this API's own confidential client: the
//! desktop app never holds these credentials. Auth0's subset: a `client_credentials` token
//! for the audience `https://TENANT/api/v2/`, then `GET` / `PATCH /api/v2/users/{id}`.

use std::time::{Duration, Instant};

use latchkey_http::{ProviderHttp, json_answer, json_body};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, TokenResponse, TokenUrl};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::ApiError;

/// The longest a management token is reused, whatever `expires_in` the provider sent.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);
/// The confidential client's settings. Its `Debug` shows no secret (oauth2's `ClientSecret`
/// redacts itself).
#[derive(Clone, Debug)]
pub struct ManagementConfig {
    /// The provider's issuer, with its trailing slash; the management API lives under it.
    pub issuer: String,
    /// The management client's id.
    pub client_id: String,
    /// The management client's secret.
    pub client_secret: ClientSecret,
    /// Defaults to `{issuer}api/v2/` (Auth0's name for it).
    pub audience: Option<String>,
}

/// A page of users as the management API lists them (`include_totals=true`).
#[derive(Clone, Debug, Deserialize)]
pub struct ListedUsers {
    #[serde(default)]
    pub total: u64,
    pub users: Vec<ListedUser>,
}

/// A listed user (the fields the Users page shows).
#[derive(Clone, Debug, Deserialize)]
pub struct ListedUser {
    pub user_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub last_login: Option<String>,
    #[serde(default)]
    pub user_metadata: serde_json::Map<String, Value>,
}

/// A user as the management API returns one (the fields this API reads).
#[derive(Clone, Debug, Deserialize)]
pub struct ManagedUser {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub user_metadata: serde_json::Map<String, Value>,
    #[serde(default)]
    pub identities: Vec<Identity>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Identity {
    #[serde(default)]
    pub provider: String,
    #[serde(default, rename = "isSocial")]
    pub is_social: bool,
}

impl ManagedUser {
    /// Only accounts with a password at the provider itself may change their email: a
    /// social identity's email belongs to the social provider.
    pub fn email_editable(&self) -> bool {
        !self.identities.is_empty()
            && self
                .identities
                .iter()
                .all(|i| i.provider == "auth0" && !i.is_social)
    }

    fn metadata(&self, key: &str) -> Option<String> {
        self.user_metadata
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    pub fn given_name(&self) -> String {
        self.metadata("given_name")
            .or_else(|| self.given_name.clone())
            .or_else(|| {
                self.name
                    .as_deref()
                    .and_then(|n| n.split_whitespace().next())
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    }

    pub fn family_name(&self) -> String {
        self.metadata("family_name")
            .or_else(|| self.family_name.clone())
            .or_else(|| {
                self.name
                    .as_deref()
                    .and_then(|n| n.trim().split_once(char::is_whitespace))
                    .map(|(_, rest)| rest.trim().to_owned())
            })
            .unwrap_or_default()
    }
}

pub struct Management {
    config: ManagementConfig,
    /// No redirects (the token request carries the client secret), capped answers.
    http: ProviderHttp,
    token: Mutex<Option<(String, Instant)>>,
}

impl Management {
    pub fn new(config: ManagementConfig) -> Self {
        Self {
            config,
            http: ProviderHttp::default(),
            token: Mutex::new(None),
        }
    }

    fn audience(&self) -> String {
        self.config
            .audience
            .clone()
            .unwrap_or_else(|| format!("{}/api/v2/", self.config.issuer.trim_end_matches('/')))
    }

    fn user_url(&self, user_id: &str) -> Result<url::Url, ApiError> {
        self.api_url(&["users", user_id])
    }

    fn users_url(&self) -> Result<url::Url, ApiError> {
        self.api_url(&["users"])
    }

    /// `segments` under the management API's base (its audience).
    fn api_url(&self, segments: &[&str]) -> Result<url::Url, ApiError> {
        let mut url = url::Url::parse(&self.audience())
            .map_err(|e| unavailable(format!("the management audience is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| unavailable("the management audience cannot hold a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// A management token, reused until a minute before it expires.
    async fn token(&self) -> Result<String, ApiError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        #[derive(Deserialize)]
        struct Discovery {
            token_endpoint: String,
        }
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self
            .http
            .get_json(&discovery_url)
            .await
            .map_err(|e| unavailable(format!("the provider's discovery: {e}")))?;
        let token_url = TokenUrl::new(discovery.token_endpoint)
            .map_err(|e| unavailable(format!("the provider's token endpoint is not a URL: {e}")))?;
        let client = BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(self.config.client_secret.clone())
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url);
        let response = client
            .exchange_client_credentials()
            .add_extra_param("audience", self.audience())
            .request_async(&self.http)
            .await
            .map_err(|e| {
                unavailable(format!(
                    "the provider refused this API's management client: {}",
                    latchkey_http::describe_token_error(&e)
                ))
            })?;
        // A provider's `expires_in` is not trusted to fit the clock: at most a day is used.
        let lifetime = response
            .expires_in()
            .unwrap_or(Duration::from_secs(300))
            .min(MAX_TOKEN_LIFETIME)
            .saturating_sub(Duration::from_secs(60));
        let token = response.access_token().secret().clone();
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// One page of the provider's users matching the Lucene query `q` (Auth0's `GET
    /// /api/v2/users` with `search_engine=v3` and `include_totals=true`).
    pub async fn list_users(
        &self,
        q: &str,
        page: u32,
        per_page: u32,
    ) -> Result<ListedUsers, ApiError> {
        let mut url = self.users_url()?;
        {
            let mut query = url.query_pairs_mut();
            if !q.is_empty() {
                query.append_pair("q", q).append_pair("search_engine", "v3");
            }
            query
                .append_pair("page", &page.to_string())
                .append_pair("per_page", &per_page.to_string())
                .append_pair("include_totals", "true")
                .append_pair("sort", "name:1");
        }
        self.call(
            reqwest::Method::GET,
            url,
            None,
            "the provider refused the search",
        )
        .await
    }

    pub async fn get_user(&self, user_id: &str) -> Result<ManagedUser, ApiError> {
        self.send(user_id, None).await
    }

    /// `PATCH` with `body`; the provider merges `user_metadata`.
    pub async fn patch_user(&self, user_id: &str, body: &Value) -> Result<ManagedUser, ApiError> {
        self.send(user_id, Some(body)).await
    }

    /// `GET` or `PATCH` one user.
    async fn send(&self, user_id: &str, patch: Option<&Value>) -> Result<ManagedUser, ApiError> {
        let url = self.user_url(user_id)?;
        let method = match patch {
            Some(_) => reqwest::Method::PATCH,
            None => reqwest::Method::GET,
        };
        self.call(method, url, patch, "the provider refused the change")
            .await
    }

    /// One call to the management API; a 401 (a token revoked or rotated early) gets one
    /// fresh token and a retry. A 400 is the provider's message (or `refused`), a 404 "no such
    /// user", anything else unsuccessful "unavailable".
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<&Value>,
        refused: &'static str,
    ) -> Result<T, ApiError> {
        for attempt in 0..2 {
            let token = self.token().await?;
            let mut request = self.http.client().request(method.clone(), url.clone());
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| unavailable(format!("the provider's management API: {e}")))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                self.forget_token().await;
                continue;
            }
            if status == reqwest::StatusCode::NOT_FOUND {
                return Err(ApiError::NotFound("user"));
            }
            if status == reqwest::StatusCode::BAD_REQUEST {
                let body: Value = json_body(response, self.http.limit())
                    .await
                    .unwrap_or_default();
                let message = body["message"].as_str().unwrap_or(refused);
                return Err(ApiError::Invalid(message.to_owned()));
            }
            if !status.is_success() {
                return Err(unavailable(format!(
                    "the provider's management API answered {status}"
                )));
            }
            return json_answer(response, self.http.limit())
                .await
                .map_err(|e| unavailable(format!("the provider's management API: {e}")));
        }
        Err(unavailable(
            "the provider's management API refused this API's token".into(),
        ))
    }
}

fn unavailable(message: String) -> ApiError {
    tracing::warn!("management API: {message}");
    ApiError::Unavailable(message)
}
