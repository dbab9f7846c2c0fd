//! Calling the protected API from Rust: the bearer token goes only where it belongs.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use url::Url;

use crate::error::SessionError;
use crate::session::Session;

/// The largest answer read from the protected API.
pub const MAX_API_ANSWER: usize = 4 * 1024 * 1024;

/// An API answer, whatever its status.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    /// The HTTP status the API answered with.
    pub status: u16,
    /// The answer's body, as text (at most [`MAX_API_ANSWER`] bytes).
    pub body: String,
    /// Whether the request carried the access token.
    pub authorized: bool,
}

/// Why an API call produced no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The URL is not a URL.
    #[error("{url:?} is not a valid URL")]
    InvalidUrl {
        /// What was given.
        url: String,
        /// Why it is not one.
        #[source]
        source: url::ParseError,
    },
    /// The session could not supply a token.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The API could not be reached, or its answer could not be read (the URL, which may
    /// carry a query, is left out).
    #[error("cannot reach the API: {}", latchkey_http::error_chain(.0))]
    Network(#[source] latchkey_http::HttpError),
}

/// An HTTP client that attaches the access token (`Bearer`, or `DPoP` with a proof) only to
/// URLs under the configured API base (an allow list, as Auth0's Angular SDK has), retries
/// once after a 401 with fresh tokens, and never follows a redirect out of the allow list.
#[derive(Clone)]
pub struct ApiClient {
    session: Session,
    base: Url,
    http: reqwest::Client,
}

/// Whether `url` is under `base`: same scheme, host and port, and a path inside base's path.
pub(crate) fn is_allowed(base: &Url, url: &Url) -> bool {
    if url.scheme() != base.scheme()
        || url.host_str() != base.host_str()
        || url.port_or_known_default() != base.port_or_known_default()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return false;
    }
    let prefix = base.path().trim_end_matches('/');
    let path = url.path();
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

impl ApiClient {
    /// A client that calls the API for `session`, under its configured `apiUrl`.
    pub fn new(session: Session) -> Self {
        let base = session.config().api_url.clone();
        let policy_base = base.clone();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 || !is_allowed(&policy_base, attempt.url()) {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(session.app().user_agent())
            .build()
            .unwrap_or_default();
        Self {
            session,
            base,
            http,
        }
    }

    /// The API base: only URLs under it get the bearer token.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<ApiResponse, ApiError> {
        self.send(Method::GET, url, None).await
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<ApiResponse, ApiError> {
        let url = Url::parse(url).map_err(|source| ApiError::InvalidUrl {
            url: url.to_owned(),
            source,
        })?;
        if !is_allowed(&self.base, &url) {
            return self
                .once(method, url, body, None)
                .await
                .map(|(answer, _)| answer);
        }
        let (token, generation, dpop, account) = self.session.access_credentials().await?;
        let credentials = Credentials {
            token: token.secret(),
            dpop: dpop.as_deref(),
        };
        let first = self
            .authorized(method.clone(), &url, body, credentials)
            .await?;
        if first.status != StatusCode::UNAUTHORIZED.as_u16() {
            return Ok(first);
        }
        // One 401: the token may have been revoked or rotated early. Refresh and retry once.
        self.session.refresh(generation).await?;
        let (token, _, dpop, now) = self.session.access_credentials().await?;
        if now != account {
            // Another account became active meanwhile: its token is not sent for this call.
            return Err(SessionError::AccountSwitched.into());
        }
        let credentials = Credentials {
            token: token.secret(),
            dpop: dpop.as_deref(),
        };
        self.authorized(method, &url, body, credentials).await
    }

    /// A call with the access token; a DPoP-bound one is sent once more, with the nonce,
    /// when the API asks for one (RFC 9449 §9).
    async fn authorized(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        credentials: Credentials<'_>,
    ) -> Result<ApiResponse, ApiError> {
        let (answer, asks_for_nonce) = self
            .once(method.clone(), url.clone(), body, Some(credentials))
            .await?;
        if !asks_for_nonce || credentials.dpop.is_none() {
            return Ok(answer);
        }
        self.once(method, url.clone(), body, Some(credentials))
            .await
            .map(|(answer, _)| answer)
    }

    /// One request; returns the answer and whether it was a fresh `use_dpop_nonce` challenge.
    async fn once(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        credentials: Option<Credentials<'_>>,
    ) -> Result<(ApiResponse, bool), ApiError> {
        let nonces = &self.session.inner.dpop_nonces;
        let mut request = self.http.request(method.clone(), url.clone());
        match credentials {
            Some(Credentials {
                token,
                dpop: Some(key),
            }) => {
                let proof = crate::dpop::proof(key, nonces, method.as_str(), &url, Some(token));
                request = request
                    .header(reqwest::header::AUTHORIZATION, format!("DPoP {token}"))
                    .header(crate::dpop::HEADER, proof);
            }
            Some(Credentials { token, dpop: None }) => request = request.bearer_auth(token),
            None => {}
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Network(e.without_url().into()))?;
        let status = response.status().as_u16();
        let asks_for_nonce = credentials.is_some_and(|c| c.dpop.is_some())
            && nonces.take_from(&url, response.headers())
            && status == StatusCode::UNAUTHORIZED.as_u16()
            && crate::dpop::challenges_for_nonce(response.headers());
        let body = match latchkey_http::read_capped(response, MAX_API_ANSWER).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(latchkey_http::HttpError::Transport(e)) => {
                return Err(ApiError::Network(e.without_url().into()));
            }
            Err(e) => return Err(ApiError::Network(e)),
        };
        Ok((
            ApiResponse {
                status,
                body,
                authorized: credentials.is_some(),
            },
            asks_for_nonce,
        ))
    }
}

/// The access token a call carries, and the DPoP key it is bound to.
#[derive(Clone, Copy)]
struct Credentials<'a> {
    token: &'a str,
    dpop: Option<&'a latchkey_dpop::ProofKey>,
}

#[cfg(test)]
mod tests {
    use super::is_allowed;
    use url::Url;

    #[test]
    fn only_urls_under_the_api_base_are_allowed() {
        let base = Url::parse("http://127.0.0.1:6060/api").unwrap();
        let ok = [
            "http://127.0.0.1:6060/api",
            "http://127.0.0.1:6060/api/messages/protected",
        ];
        let bad = [
            "http://127.0.0.1:6060/apiary",
            "http://127.0.0.1:6061/api/x",
            "https://127.0.0.1:6060/api/x",
            "http://127.0.0.1.evil.example:6060/api/x",
            "http://user@127.0.0.1:6060/api/x",
            "http://localhost:6060/api/x",
        ];
        for url in ok {
            assert!(is_allowed(&base, &Url::parse(url).unwrap()), "{url}");
        }
        for url in bad {
            assert!(!is_allowed(&base, &Url::parse(url).unwrap()), "{url}");
        }
        let root = Url::parse("https://api.example.com").unwrap();
        assert!(is_allowed(
            &root,
            &Url::parse("https://api.example.com/anything").unwrap()
        ));
        assert!(is_allowed(
            &root,
            &Url::parse("https://api.example.com:443/x").unwrap()
        ));
    }
}
