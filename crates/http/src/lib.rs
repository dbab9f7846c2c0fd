//! Outbound HTTP for Latchkey's engine and the sample API: no redirects (oauth2's advice
//! against SSRF), rustls, time limits, and a cap on the size of every answer, so a provider —
//! or whatever answers in its place — cannot make Latchkey read without end.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse, RequestTokenError};

/// The largest answer read from a provider: discovery, JWKS, token, userinfo and device
/// answers are a few KB; Keycloak's and Entra ID's tokens reach a few tens of KB.
pub const MAX_PROVIDER_ANSWER: usize = 1024 * 1024;

/// Why a provider call got no answer Latchkey could read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request (or the answer handed on to oauth2) could not be built.
    #[error("the request could not be built: {0}")]
    Request(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// No answer: the connection failed or timed out.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    /// The answer is larger than the client's limit.
    #[error("the answer from {url} is larger than {limit} bytes and was not read")]
    TooLarge {
        /// The URL that answered, without its query.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The answer is an HTTP error status (any, from `get_json`; a 5xx, from a token call).
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL that answered, without its query.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The answer is not the JSON expected: not JSON, or missing or mistyped fields.
    #[error("the answer from {url} is not usable: {detail}")]
    NotJson {
        /// The URL that answered, without its query.
        url: String,
        /// What is wrong (serde's message, which names fields, never values).
        detail: String,
    },
}

/// A `reqwest` client whose answers are read up to a limit. Implements oauth2's (and so
/// openidconnect's) [`AsyncHttpClient`], so every discovery, JWKS, token, userinfo, device
/// and management-token call goes through the cap.
#[derive(Clone, Debug)]
pub struct ProviderHttp {
    client: reqwest::Client,
    limit: usize,
}

impl Default for ProviderHttp {
    fn default() -> Self {
        Self::with_limit(MAX_PROVIDER_ANSWER)
    }
}

impl ProviderHttp {
    /// A client that reads at most `limit` bytes of any answer.
    pub fn with_limit(limit: usize) -> Self {
        Self::new(concat!("Latchkey/", env!("CARGO_PKG_VERSION")), limit)
    }

    /// A client that sends `user_agent` and reads at most `limit` bytes of any answer.
    pub fn new(user_agent: &str, limit: usize) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(user_agent)
            .build()
            .unwrap_or_default();
        Self { client, limit }
    }

    /// GETs `url` and reads its JSON answer; a failure names the URL and what was wrong
    /// (unreachable, an HTTP error status, too large, not JSON, or missing or mistyped
    /// fields).
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, HttpError> {
        let response = self.client.get(url).send().await?;
        json_answer(response, self.limit).await
    }

    /// The client itself, for a request whose answer is read with [`read_capped`].
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Reads `response`'s body, refusing it as soon as it is known to exceed `limit` bytes: by
/// its `Content-Length`, or while it streams in.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, HttpError> {
    let too_large = |response: &reqwest::Response| HttpError::TooLarge {
        url: without_query(response.url()),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large(&response));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large(&response));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads `response` as JSON of type `T`, within `limit` bytes. An error status, a body that
/// is not JSON (whatever its content type), and missing or mistyped fields are errors naming
/// the URL; the body itself is never quoted (it may hold a token).
pub async fn json_answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
) -> Result<T, HttpError> {
    let status = response.status();
    if !status.is_success() {
        return Err(HttpError::Status {
            url: without_query(response.url()),
            status: status.as_u16(),
        });
    }
    json_body(response, limit).await
}

/// Reads `response` as JSON of type `T` whatever its status (an error answer's body), within
/// `limit` bytes.
pub async fn json_body<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
) -> Result<T, HttpError> {
    let url = without_query(response.url());
    let body = read_capped(response, limit).await?;
    serde_json::from_slice(&body).map_err(|err| HttpError::NotJson {
        url,
        detail: describe_json_error(&err),
    })
}

/// A serde_json error in words, with its position but no excerpt of the input.
fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Io => "it could not be read",
        Category::Syntax | Category::Eof => "it is not JSON",
        Category::Data => "it lacks a field or has one of the wrong type",
    };
    match err.classify() {
        Category::Data => format!("{what} ({})", without_values(&err.to_string())),
        _ => format!("{what} (line {}, column {})", err.line(), err.column()),
    }
}

/// serde's message with the input's values taken out. serde names the field and the types,
/// but quotes the value it could not use (`invalid type: string "…", expected u64`,
/// ``unknown variant `…` ``): a provider that puts a token in the wrong field would have it
/// repeated in an error a person sees and a log keeps. Field names (``missing field `iss` ``)
/// stay.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in message.chars() {
        match open {
            Some(quote) if c == quote => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '"' || (c == '`' && out.ends_with("unknown variant `")) {
                    open = Some(c);
                }
            }
        }
    }
    out
}

/// The URL to name in a message: scheme, host, port and path (a query may carry a secret).
fn without_query(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|err| HttpError::Request(Box::new(err)))?;
            let response = self.client.execute(request).await?;
            // A server error is the provider failing, whatever its body: say which endpoint
            // and which status, rather than "unreadable answer" from a JSON parser.
            if response.status().is_server_error() {
                return Err(HttpError::Status {
                    url: without_query(response.url()),
                    status: response.status().as_u16(),
                });
            }
            let mut builder = oauth2::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_capped(response, self.limit).await?;
            builder
                .body(body)
                .map_err(|err| HttpError::Request(Box::new(err)))
        })
    }
}

/// A token endpoint error in words, for the engine and the sample API alike: the provider's
/// OAuth error (RFC 6749 §5.2) with its description, the transport error with its causes, or
/// an unreadable answer. The response body is never quoted (it may echo a token).
pub fn describe_token_error<RE, T>(err: &RequestTokenError<RE, T>) -> String
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match err {
        RequestTokenError::ServerResponse(response) => response.to_string(),
        RequestTokenError::Request(e) => error_chain(e),
        RequestTokenError::Parse(e, _) => format!(
            "unreadable answer from the token endpoint ({})",
            without_values(&e.to_string())
        ),
        RequestTokenError::Other(e) => e.clone(),
    }
}

/// An error with its sources, on one line (each source once).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_error_names_the_field_and_the_types_but_never_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Answer {
            expires_in: u64,
            token_type: Kind,
        }
        #[derive(Debug, serde::Deserialize)]
        enum Kind {
            Bearer,
        }
        let secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl";
        for body in [
            format!(r#"{{"expires_in": "{secret}", "token_type": "Bearer"}}"#),
            format!(r#"{{"expires_in": 1, "token_type": "{secret}"}}"#),
        ] {
            let err = serde_json::from_str::<Answer>(&body).unwrap_err();
            assert!(err.to_string().contains(secret), "serde quotes it: {err}");
            let said = describe_json_error(&err);
            assert!(!said.contains("c2VjcmV0"), "{said}");
            assert!(said.contains("expected"), "{said}");
        }
        assert_eq!(
            without_values(r#"invalid type: string "abc", expected u64 at line 1"#),
            r#"invalid type: string "…", expected u64 at line 1"#
        );
        assert_eq!(
            without_values("unknown variant `abc`, expected `Bearer` at line 1"),
            "unknown variant `…`, expected `Bearer` at line 1"
        );
        assert_eq!(
            without_values("missing field `issuer` at line 1"),
            "missing field `issuer` at line 1"
        );
    }
    use axum::Router;
    use axum::routing::get;

    /// A server on loopback whose `/sized` answer announces its length and whose `/streamed`
    /// answer does not (chunked), each `size` bytes.
    async fn serve(size: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let json = || [(axum::http::header::CONTENT_TYPE, "application/json")];
        let app = Router::new()
            .route("/sized", get(move || async move { " ".repeat(size) }))
            .route(
                "/html",
                get(move || async move { (json(), "<html>oops</html>") }),
            )
            .route(
                "/wrong-type",
                get(move || async move { (json(), r#"{"keys": 7}"#) }),
            )
            .route(
                "/missing",
                get(move || async move { (json(), r#"{"other": []}"#) }),
            )
            .route(
                "/error",
                get(|| async { (axum::http::StatusCode::BAD_GATEWAY, "upstream") }),
            )
            .route(
                "/streamed",
                get(move || async move {
                    let chunks =
                        (0..size.div_ceil(1024)).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024]));
                    axum::body::Body::from_stream(futures_util::stream::iter(chunks))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    async fn get_capped(url: &str, limit: usize) -> Result<Vec<u8>, HttpError> {
        let http = ProviderHttp::with_limit(limit);
        let response = http.client().get(url).send().await?;
        read_capped(response, limit).await
    }

    #[tokio::test]
    async fn answers_over_the_limit_are_refused_announced_or_streamed() {
        let base = serve(64 * 1024).await;
        for path in ["/sized", "/streamed"] {
            let url = format!("{base}{path}?secret=x");
            let err = get_capped(&url, 16 * 1024).await.unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, HttpError::TooLarge { limit: 16384, .. }),
                "{path}: {text}"
            );
            assert!(text.contains(path), "the endpoint is named: {text}");
            assert!(!text.contains("secret"), "the query is not: {text}");
            let whole = get_capped(&url, 64 * 1024).await.unwrap();
            assert_eq!(
                whole.len(),
                64 * 1024,
                "{path} within the limit is read whole"
            );
        }
    }

    #[tokio::test]
    async fn unusable_json_answers_name_the_url_and_the_problem() {
        #[derive(Debug, serde::Deserialize)]
        struct Keys {
            #[allow(dead_code)]
            keys: Vec<String>,
        }
        let base = serve(1).await;
        let http = ProviderHttp::default();
        for (path, problem) in [
            ("/html", "it is not JSON"),
            ("/wrong-type", "wrong type"),
            ("/missing", "missing field `keys`"),
            ("/error", "answered HTTP 502"),
            ("/nowhere", "answered HTTP 404"),
        ] {
            let url = format!("{base}{path}");
            let err = http.get_json::<Keys>(&url).await.unwrap_err().to_string();
            assert!(err.contains(&url), "{path}: {err}");
            assert!(err.contains(problem), "{path}: {err}");
            assert!(!err.contains("oops"), "the body is not quoted: {err}");
        }
    }

    #[tokio::test]
    async fn the_openid_client_goes_through_the_cap() {
        let base = serve(64 * 1024).await;
        let http = ProviderHttp::with_limit(1024);
        let request = oauth2::http::Request::get(format!("{base}/streamed"))
            .body(Vec::new())
            .unwrap();
        let err = http.call(request).await.unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err}");
    }
}
