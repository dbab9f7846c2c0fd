//! Discovery, the JWKS cache and the OpenID client built from them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use latchkey_http::{HttpError, ProviderHttp};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    JsonWebKeySet,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{Config, check_endpoint_url};

/// An unknown `kid` may refetch the JWKS at most this often.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Discovery fields beyond what openidconnect models.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RFC 7009.
    pub revocation_endpoint: Option<Url>,
    /// OpenID Connect RP-Initiated Logout 1.0.
    pub end_session_endpoint: Option<Url>,
    /// RFC 7636 §4.3 / RFC 8414.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// OpenID Connect Prompt Create 1.0 §4: the `prompt` values the provider understands.
    #[serde(default)]
    pub prompt_values_supported: Vec<String>,
    /// RFC 8628 §4: where a device (the CLI over SSH) asks for a user code.
    pub device_authorization_endpoint: Option<Url>,
    /// Auth0's MFA API: no standard document has it, so it marks Auth0 behind a custom
    /// domain ([`crate::quirks`]).
    pub mfa_challenge_endpoint: Option<Url>,
    /// RFC 9449 §5.1: the algorithms the provider takes DPoP proofs in.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

pub type ProviderMetadata = openidconnect::ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The OpenID client as discovery leaves it: authorization endpoint set, token and
/// userinfo endpoints as the provider published them.
pub type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why the provider cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The discovery document or JWKS could not be fetched: the provider is unreachable, or
    /// failing on its side (5xx).
    #[error("cannot read the provider's configuration at {issuer}: {detail}")]
    Fetch {
        /// The configured issuer.
        issuer: String,
        /// What went wrong, with its causes.
        detail: String,
    },
    /// The provider answered, but not with a usable discovery document or JWKS: not JSON,
    /// missing or mistyped fields, too large, another issuer.
    #[error(
        "the provider's configuration ({issuer}.well-known/openid-configuration and its jwks_uri) is not usable: {detail}"
    )]
    Unusable {
        /// The configured issuer.
        issuer: String,
        /// What is wrong with the documents.
        detail: String,
    },
    /// RFC 7636: Latchkey uses PKCE S256 only.
    #[error(
        "the provider at {issuer} does not support PKCE with S256, which a native app needs (RFC 8252 §8.1)"
    )]
    NoPkceS256 {
        /// The configured issuer.
        issuer: String,
    },
    /// An endpoint the provider published is not https (loopback excepted).
    #[error("the provider's {endpoint} {problem}")]
    InsecureEndpoint {
        /// The discovery field of the endpoint (`token_endpoint`, …).
        endpoint: &'static str,
        /// What is wrong with its URL.
        problem: String,
    },
}

/// Where an endpoint Latchkey uses came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointSource {
    /// The OpenID Connect discovery document (`/.well-known/openid-configuration`).
    OpenIdConfiguration,
    /// The RFC 8414 authorization server metadata (`/.well-known/oauth-authorization-server`),
    /// read because OpenID discovery left the endpoint out (Django OAuth Toolkit lists its
    /// revocation endpoint only there).
    AuthorizationServerMetadata,
    /// The configuration file (`revocationEndpoint`, `deviceAuthorizationEndpoint`).
    Configuration,
}

impl std::fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OpenIdConfiguration => "from openid-configuration",
            Self::AuthorizationServerMetadata => "from oauth-authorization-server (RFC 8414)",
            Self::Configuration => "from the configuration",
        })
    }
}

/// An optional endpoint and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint's URL.
    pub url: Url,
    /// Where it came from.
    pub source: EndpointSource,
}

/// The optional endpoints, each from the configuration, OpenID discovery or RFC 8414.
#[derive(Clone, Debug, Default)]
struct OptionalEndpoints {
    revocation: Option<Endpoint>,
    device_authorization: Option<Endpoint>,
}

/// The part of RFC 8414 metadata read when OpenID discovery leaves an endpoint out.
#[derive(Deserialize)]
struct AuthorizationServerMetadata {
    issuer: String,
    revocation_endpoint: Option<Url>,
    device_authorization_endpoint: Option<Url>,
}

/// A discovered provider.
pub struct Provider {
    pub(crate) metadata: ProviderMetadata,
    pub(crate) client: OidcClient,
    jwks: Mutex<(JsonWebKeySet<CoreJsonWebKey>, Option<Instant>)>,
    endpoints: OptionalEndpoints,
}

impl Provider {
    /// Reads the provider's discovery document (and its RFC 8414 metadata for an endpoint the
    /// document leaves out), checks it, and builds the OpenID client.
    pub async fn discover(config: &Config, http: &ProviderHttp) -> Result<Self, DiscoveryError> {
        let fetch_err = |detail: String| DiscoveryError::Fetch {
            issuer: config.issuer.to_string(),
            detail,
        };
        let issuer = config.issuer.clone();
        // openidconnect checks that the document's issuer equals ours exactly.
        let metadata = ProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| {
                let detail = error_chain(&e);
                if unreachable(&e) {
                    fetch_err(detail)
                } else {
                    DiscoveryError::Unusable {
                        issuer: config.issuer.to_string(),
                        detail,
                    }
                }
            })?;
        let mut provider = Self::from_metadata(config, metadata)?;
        let endpoints = &provider.endpoints;
        if endpoints.revocation.is_none() || endpoints.device_authorization.is_none() {
            provider.read_rfc8414_metadata(config, http).await?;
        }
        Ok(provider)
    }

    /// Fills the optional endpoints OpenID discovery and the configuration left out from the
    /// provider's RFC 8414 metadata, where it publishes one whose issuer is ours: at
    /// `/.well-known/oauth-authorization-server` with the issuer's path appended (RFC 8414
    /// §3.1), then appended to the issuer (where OpenID discovery is). A provider without it
    /// is not an error; an endpoint found there is checked like a discovered one.
    async fn read_rfc8414_metadata(
        &mut self,
        config: &Config,
        http: &ProviderHttp,
    ) -> Result<(), DiscoveryError> {
        for url in rfc8414_locations(config.issuer.url()) {
            let metadata = match http.get_json::<AuthorizationServerMetadata>(&url).await {
                Ok(metadata) => metadata,
                Err(err) => {
                    tracing::debug!("no RFC 8414 metadata at {url}: {err}");
                    continue;
                }
            };
            if metadata.issuer != *config.issuer {
                tracing::debug!(
                    "the RFC 8414 metadata at {url} is for another issuer ({:?}); not used",
                    metadata.issuer
                );
                continue;
            }
            let found = [
                (
                    "revocation_endpoint",
                    &mut self.endpoints.revocation,
                    metadata.revocation_endpoint,
                ),
                (
                    "device_authorization_endpoint",
                    &mut self.endpoints.device_authorization,
                    metadata.device_authorization_endpoint,
                ),
            ];
            for (endpoint, slot, url) in found {
                if let (None, Some(url)) = (&slot, url) {
                    check_endpoint_url(url.as_str()).map_err(|problem| {
                        DiscoveryError::InsecureEndpoint { endpoint, problem }
                    })?;
                    *slot = Some(Endpoint {
                        url,
                        source: EndpointSource::AuthorizationServerMetadata,
                    });
                }
            }
            return Ok(());
        }
        Ok(())
    }

    /// RFC 7009: where log out revokes the refresh token, if the provider has one.
    pub fn revocation_endpoint(&self) -> Option<&Endpoint> {
        self.endpoints.revocation.as_ref()
    }

    /// Whether the provider takes DPoP proofs made with ES256, the key Latchkey makes.
    pub fn offers_dpop(&self) -> bool {
        self.metadata
            .additional_metadata()
            .dpop_signing_alg_values_supported
            .iter()
            .any(|alg| alg == "ES256")
    }

    /// RFC 8628: where a device asks for a user code, if the provider has one.
    pub fn device_authorization_endpoint(&self) -> Option<&Endpoint> {
        self.endpoints.device_authorization.as_ref()
    }

    /// The provider a discovery document describes, once it is checked: PKCE S256 offered,
    /// every endpoint https (loopback excepted), a token endpoint present.
    pub(crate) fn from_metadata(
        config: &Config,
        metadata: ProviderMetadata,
    ) -> Result<Self, DiscoveryError> {
        let fetch_err = |detail: String| DiscoveryError::Unusable {
            issuer: config.issuer.to_string(),
            detail,
        };
        let extra = metadata.additional_metadata();
        if !extra
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
        {
            return Err(DiscoveryError::NoPkceS256 {
                issuer: config.issuer.to_string(),
            });
        }
        let endpoints = [
            (
                "authorization_endpoint",
                Some(metadata.authorization_endpoint().url().as_str()),
            ),
            (
                "token_endpoint",
                metadata.token_endpoint().map(|u| u.url().as_str()),
            ),
            ("jwks_uri", Some(metadata.jwks_uri().url().as_str())),
            (
                "userinfo_endpoint",
                metadata.userinfo_endpoint().map(|u| u.url().as_str()),
            ),
            (
                "revocation_endpoint",
                extra.revocation_endpoint.as_ref().map(Url::as_str),
            ),
            (
                "end_session_endpoint",
                extra.end_session_endpoint.as_ref().map(Url::as_str),
            ),
            (
                "device_authorization_endpoint",
                extra
                    .device_authorization_endpoint
                    .as_ref()
                    .map(Url::as_str),
            ),
        ];
        for (endpoint, url) in endpoints {
            if let Some(url) = url {
                check_endpoint_url(url)
                    .map_err(|problem| DiscoveryError::InsecureEndpoint { endpoint, problem })?;
            }
        }
        if metadata.token_endpoint().is_none() {
            return Err(fetch_err(
                "the discovery document has no token_endpoint".into(),
            ));
        }
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(config.client_id.clone()),
            None,
        );
        let jwks = metadata.jwks().clone();
        let choose = |configured: &Option<Url>, discovered: &Option<Url>| {
            let endpoint = |url: &Url, source| Endpoint {
                url: url.clone(),
                source,
            };
            configured
                .as_ref()
                .map(|url| endpoint(url, EndpointSource::Configuration))
                .or_else(|| {
                    discovered
                        .as_ref()
                        .map(|url| endpoint(url, EndpointSource::OpenIdConfiguration))
                })
        };
        let endpoints = OptionalEndpoints {
            revocation: choose(&config.endpoints.revocation, &extra.revocation_endpoint),
            device_authorization: choose(
                &config.endpoints.device_authorization,
                &extra.device_authorization_endpoint,
            ),
        };
        Ok(Self {
            metadata,
            client,
            jwks: Mutex::new((jwks, None)),
            endpoints,
        })
    }

    pub(crate) fn extra(&self) -> &ExtraMetadata {
        self.metadata.additional_metadata()
    }

    pub(crate) fn jwks(&self) -> JsonWebKeySet<CoreJsonWebKey> {
        crate::lock_unpoisoned(&self.jwks).0.clone()
    }

    /// Refetches the JWKS after an unknown `kid`, at most once per [`JWKS_REFETCH_INTERVAL`].
    /// Returns whether a fresh set was fetched.
    pub(crate) async fn refetch_jwks(&self, http: &ProviderHttp) -> bool {
        {
            let guard = crate::lock_unpoisoned(&self.jwks);
            if guard.1.is_some_and(|t| t.elapsed() < JWKS_REFETCH_INTERVAL) {
                return false;
            }
        }
        match JsonWebKeySet::fetch_async(self.metadata.jwks_uri(), http).await {
            Ok(fresh) => {
                *crate::lock_unpoisoned(&self.jwks) = (fresh, Some(Instant::now()));
                true
            }
            Err(err) => {
                tracing::warn!(
                    "refetching the provider's JWKS failed: {}",
                    error_chain(&err)
                );
                crate::lock_unpoisoned(&self.jwks).1 = Some(Instant::now());
                false
            }
        }
    }
}

/// Where RFC 8414 metadata for `issuer` may be: the well-known path inserted before the
/// issuer's path (§3.1), then appended to it as OpenID discovery does (where Django OAuth
/// Toolkit mounted under a prefix serves it). One location for an issuer without a path.
fn rfc8414_locations(url: &Url) -> Vec<String> {
    const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    let mut locations = vec![format!("{origin}{WELL_KNOWN}{path}")];
    if !path.is_empty() {
        locations.push(format!("{origin}{path}{WELL_KNOWN}"));
    }
    locations
}

/// Whether discovery failed for want of a working provider (no answer, or a 5xx), rather
/// than because of what it answered.
fn unreachable(err: &openidconnect::DiscoveryError<HttpError>) -> bool {
    use openidconnect::DiscoveryError as E;
    match err {
        E::Request(HttpError::Transport(_)) => true,
        E::Response(status, ..) => status.is_server_error(),
        _ => false,
    }
}

pub(crate) use latchkey_http::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_is_looked_for_where_the_rfc_puts_it_then_beside_openid_discovery() {
        assert_eq!(
            rfc8414_locations(&Url::parse("https://idp.example.com/").unwrap()),
            ["https://idp.example.com/.well-known/oauth-authorization-server"]
        );
        assert_eq!(
            rfc8414_locations(&Url::parse("https://idp.example.com/o").unwrap()),
            [
                "https://idp.example.com/.well-known/oauth-authorization-server/o",
                "https://idp.example.com/o/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            rfc8414_locations(&Url::parse("http://127.0.0.1:8000/realms/x/").unwrap()),
            [
                "http://127.0.0.1:8000/.well-known/oauth-authorization-server/realms/x",
                "http://127.0.0.1:8000/realms/x/.well-known/oauth-authorization-server",
            ]
        );
    }
}
