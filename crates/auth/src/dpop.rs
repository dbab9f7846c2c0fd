//! DPoP (RFC 9449) on the client: every token request (code, device, refresh) and every call
//! with a bound access token (userinfo, the API) carries a fresh proof signed with the key
//! the session holds. A server that asks for a nonce (`use_dpop_nonce`, with `DPoP-Nonce`)
//! gets the request once more with it; the latest nonce each server gave is remembered.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use latchkey_dpop::ProofKey;
use latchkey_http::{HttpError, ProviderHttp};
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::lock_unpoisoned;

/// The `DPoP` request header.
pub(crate) const HEADER: &str = "dpop";
/// The header a server sends a nonce in.
pub(crate) const NONCE_HEADER: &str = "dpop-nonce";

/// The latest nonce each server (by origin) asked for.
#[derive(Default)]
pub(crate) struct ServerNonces(Mutex<HashMap<String, String>>);

impl ServerNonces {
    pub(crate) fn get(&self, url: &url::Url) -> Option<String> {
        lock_unpoisoned(&self.0)
            .get(&url.origin().ascii_serialization())
            .cloned()
    }

    /// Keeps the nonce `headers` carry, if any; returns whether there was a new one.
    pub(crate) fn take_from(&self, url: &url::Url, headers: &reqwest::header::HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= 1024)
        else {
            return false;
        };
        let previous =
            lock_unpoisoned(&self.0).insert(url.origin().ascii_serialization(), nonce.to_owned());
        previous.as_deref() != Some(nonce)
    }
}

/// A proof for `method` `url` (its query and fragment left out, as `htu` wants), for
/// `access_token` on a resource request, with the server's latest nonce.
pub(crate) fn proof(
    key: &ProofKey,
    nonces: &ServerNonces,
    method: &str,
    url: &url::Url,
    access_token: Option<&str>,
) -> String {
    let mut htu = url.clone();
    htu.set_query(None);
    htu.set_fragment(None);
    key.proof(
        method,
        htu.as_str(),
        latchkey_dpop::unix_now(),
        access_token,
        nonces.get(url).as_deref(),
    )
}

/// The provider's HTTP client with a proof on every request: what oauth2 and openidconnect
/// send token and userinfo requests through when the session is DPoP-bound. A bearer
/// `Authorization` (openidconnect's userinfo) becomes `DPoP` with the token's hash in the proof.
pub(crate) struct DpopHttp<'a> {
    pub(crate) http: &'a ProviderHttp,
    pub(crate) key: &'a Arc<ProofKey>,
    pub(crate) nonces: &'a ServerNonces,
}

impl<'c> AsyncHttpClient<'c> for DpopHttp<'_> {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = url::Url::parse(&parts.uri.to_string())
                .map_err(|err| HttpError::Request(Box::new(err)))?;
            let bearer = parts
                .headers
                .get(reqwest::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned);
            // At most twice: once more when the server asks for a (new) nonce.
            let mut retried = false;
            loop {
                let mut request = openidconnect::http::Request::builder()
                    .method(parts.method.clone())
                    .uri(parts.uri.clone())
                    .version(parts.version);
                for (name, value) in &parts.headers {
                    if name != reqwest::header::AUTHORIZATION {
                        request = request.header(name, value);
                    }
                }
                if let Some(token) = &bearer {
                    request =
                        request.header(reqwest::header::AUTHORIZATION, format!("DPoP {token}"));
                } else if let Some(value) = parts.headers.get(reqwest::header::AUTHORIZATION) {
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
                let proof = proof(
                    self.key,
                    self.nonces,
                    parts.method.as_str(),
                    &url,
                    bearer.as_deref(),
                );
                let request = request
                    .header(HEADER, proof)
                    .body(body.clone())
                    .map_err(|err| HttpError::Request(Box::new(err)))?;
                let response = self.http.call(request).await?;
                let new_nonce = self.nonces.take_from(&url, response.headers());
                if !retried && new_nonce && asks_for_nonce(&response) {
                    retried = true;
                    continue;
                }
                return Ok(response);
            }
        })
    }
}

/// Whether an answer is a `use_dpop_nonce` challenge: a token endpoint's 400 with that
/// error (§8), or a resource's 401 naming it in `WWW-Authenticate` (§9).
fn asks_for_nonce(response: &HttpResponse) -> bool {
    match response.status().as_u16() {
        400 => serde_json::from_slice::<serde_json::Value>(response.body())
            .is_ok_and(|body| body["error"] == "use_dpop_nonce"),
        401 => challenges_for_nonce(response.headers()),
        _ => false,
    }
}

/// Whether `WWW-Authenticate` says `error="use_dpop_nonce"`.
pub(crate) fn challenges_for_nonce(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("use_dpop_nonce"))
}
