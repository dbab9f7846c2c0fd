//! `auth_config.json`: which provider, which client, which API.
//!
//! (Over 400 lines with its tests: each rule of the file has a test that names the field.)

use std::path::{Path, PathBuf};

use openidconnect::IssuerUrl;
use serde::Deserialize;
use url::Url;

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "LATCHKEY_CONFIG";
/// The file name looked up in the OS config directory (`…/latchkey/auth_config.json`).
pub const CONFIG_FILE: &str = "auth_config.json";

/// How the provider's answer comes back to the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectMode {
    /// `http://127.0.0.1:{ephemeral}/callback` (RFC 8252 §7.3).
    Loopback,
    /// A private-use URI scheme (RFC 8252 §7.1), handled by the desktop shell.
    DeepLink,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The issuer identifier, parsed once, compared exactly (as written) with discovery and
    /// tokens.
    pub issuer: IssuerUrl,
    /// The client (application) id registered at the provider.
    pub client_id: String,
    /// The API identifier to request access tokens for (Auth0's `audience`).
    pub audience: Option<String>,
    /// The scopes to ask for; always includes `openid`.
    pub scopes: Vec<String>,
    /// Bearer tokens are attached only to requests under this URL.
    pub api_url: Url,
    /// How the provider's answer comes back: loopback (the default) or a deep link.
    pub redirect: RedirectMode,
    /// The loopback ports to listen on, first free one wins, for providers that compare the
    /// redirect URI exactly, port included (Auth0, Okta, dex). Empty: an ephemeral port.
    pub loopback_ports: Vec<u16>,
    /// Endpoints set by hand, for providers that advertise them in neither discovery
    /// document (OpenID Connect Discovery, RFC 8414). They win over discovery.
    pub endpoints: ConfiguredEndpoints,
    /// DPoP (RFC 9449): `Some(true)` binds the tokens to a key this app holds, `Some(false)`
    /// never, `None` (the default) when discovery lists ES256 in
    /// `dpop_signing_alg_values_supported`.
    pub dpop: Option<bool>,
    /// With `"dpop": true`, take a plain bearer answer instead of refusing it as a downgrade.
    pub dpop_allow_bearer: bool,
}

/// Endpoints a configuration may give for a provider that does not advertise them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfiguredEndpoints {
    /// RFC 7009: where log out revokes the refresh token.
    pub revocation: Option<Url>,
    /// RFC 8628: where a device (the CLI over SSH) asks for a user code.
    pub device_authorization: Option<Url>,
}

/// At most this many `loopbackPorts`: each is a callback URL to register at the provider.
pub const MAX_LOOPBACK_PORTS: usize = 10;

/// Why a configuration cannot be used; every variant names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No configuration file exists: nothing says which provider to use.
    #[error(
        "no sign-in provider is configured: write {} (or name another file in LATCHKEY_CONFIG)",
        path.display()
    )]
    /// No configuration file exists where one was looked for.
    Missing {
        /// Where the file was looked for.
        path: PathBuf,
    },
    /// The file named by `LATCHKEY_CONFIG` (or found in the config dir) cannot be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Unreadable {
        /// The file that could not be read.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The file is not valid JSON, or has an unknown field or a value of the wrong type.
    #[error("{path}: {message} (line {line}, column {column})")]
    Syntax {
        /// The file (or other origin) of the text.
        path: String,
        /// The line of the mistake, from 1.
        line: usize,
        /// The column of the mistake, from 1.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// A field has a value that cannot work.
    #[error("{path}: \"{field}\" {problem}")]
    Field {
        /// The file (or other origin) of the configuration.
        path: String,
        /// The field, as written in the file (`clientId`, `loopbackPorts`, …).
        field: &'static str,
        /// What is wrong with its value and what to give instead.
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    issuer: Option<String>,
    /// Auth0 style: `YOUR_TENANT.us.auth0.com`, meaning `https://YOUR_TENANT.us.auth0.com/`.
    domain: Option<String>,
    client_id: Option<String>,
    audience: Option<String>,
    scopes: Option<String>,
    api_url: Option<String>,
    redirect: Option<String>,
    loopback_ports: Option<Vec<serde_json::Value>>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    dpop: Option<bool>,
    dpop_allow_bearer: Option<bool>,
}

const DEFAULT_SCOPES: &str = "openid profile email offline_access";

impl Config {
    /// Whether the issuer is an Auth0 tenant, which has its own ways (`audience`, `/v2/logout`).
    pub fn is_auth0(&self) -> bool {
        self.issuer
            .url()
            .host_str()
            .is_some_and(|h| h.ends_with(".auth0.com"))
    }

    /// Where Latchkey looks for its configuration: the file named by `LATCHKEY_CONFIG`, else
    /// `latchkey/auth_config.json` in the OS config directory.
    pub fn path() -> PathBuf {
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        dirs::config_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("latchkey")
            .join(CONFIG_FILE)
    }

    /// Loads the configuration from [`Config::path`]. There is no built-in default: an
    /// installed app must not quietly point at loopback services that are not running.
    pub fn find() -> Result<(Self, PathBuf), ConfigError> {
        let path = Self::path();
        if std::env::var_os(CONFIG_ENV).is_none_or(|p| p.is_empty()) && !path.exists() {
            return Err(ConfigError::Missing { path });
        }
        Ok((Self::load(&path)?, path))
    }

    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates `text`; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e
                .to_string()
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })?;
        let field = |field: &'static str, problem: &str| ConfigError::Field {
            path: origin.to_owned(),
            field,
            problem: problem.to_owned(),
        };
        let issuer = match (raw.issuer, raw.domain) {
            (Some(_), Some(_)) => {
                return Err(field(
                    "domain",
                    "cannot be given together with \"issuer\"; keep one",
                ));
            }
            (Some(issuer), None) => issuer,
            (None, Some(domain)) => {
                let domain = domain.trim().trim_end_matches('/');
                if domain.is_empty() || domain.contains("://") || domain.contains('/') {
                    return Err(field(
                        "domain",
                        "must be a host name such as \"YOUR_TENANT.us.auth0.com\"",
                    ));
                }
                format!("https://{domain}/")
            }
            (None, None) => {
                return Err(field(
                    "issuer",
                    "is missing: give the provider's issuer URL (or an Auth0 \"domain\")",
                ));
            }
        };
        check_endpoint_url(&issuer).map_err(|p| field("issuer", &p))?;
        // Parsed once here; compared with discovery and tokens as written (IssuerUrl keeps it).
        let issuer = IssuerUrl::new(issuer).map_err(|e| field("issuer", &e.to_string()))?;
        let client_id = raw
            .client_id
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                field(
                    "clientId",
                    "is missing: give the client (application) id registered at the provider",
                )
            })?;
        let audience = raw.audience.filter(|a| !a.trim().is_empty());
        let scopes: Vec<String> = raw
            .scopes
            .as_deref()
            .unwrap_or(DEFAULT_SCOPES)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(field("scopes", "must include \"openid\""));
        }
        let api_url = raw.api_url.ok_or_else(|| {
            field(
                "apiUrl",
                "is missing: give the base URL of the API the app calls",
            )
        })?;
        check_endpoint_url(&api_url).map_err(|p| field("apiUrl", &p))?;
        let api_url = Url::parse(&api_url).map_err(|e| field("apiUrl", &e.to_string()))?;
        let redirect = match raw.redirect.as_deref().unwrap_or("loopback") {
            "loopback" => RedirectMode::Loopback,
            "deep-link" => RedirectMode::DeepLink,
            other => {
                return Err(field(
                    "redirect",
                    &format!("must be \"loopback\" or \"deep-link\", not {other:?}"),
                ));
            }
        };
        let loopback_ports = loopback_ports(raw.loopback_ports.unwrap_or_default())
            .map_err(|p| field("loopbackPorts", &p))?;
        let endpoint = |name: &'static str, value: Option<String>| {
            value
                .map(|text| {
                    check_endpoint_url(&text).map_err(|p| field(name, &p))?;
                    Url::parse(&text).map_err(|e| field(name, &e.to_string()))
                })
                .transpose()
        };
        let endpoints = ConfiguredEndpoints {
            revocation: endpoint("revocationEndpoint", raw.revocation_endpoint)?,
            device_authorization: endpoint(
                "deviceAuthorizationEndpoint",
                raw.device_authorization_endpoint,
            )?,
        };
        Ok(Self {
            issuer,
            client_id,
            audience,
            scopes,
            api_url,
            redirect,
            loopback_ports,
            endpoints,
            dpop: raw.dpop,
            dpop_allow_bearer: raw.dpop_allow_bearer.unwrap_or(false),
        })
    }
}

/// Checks `loopbackPorts`: whole numbers from 1024 to 65535, no duplicates, a handful at most.
fn loopback_ports(values: Vec<serde_json::Value>) -> Result<Vec<u16>, String> {
    if values.len() > MAX_LOOPBACK_PORTS {
        return Err(format!(
            "lists {} ports; give at most {MAX_LOOPBACK_PORTS} (each is a callback URL to register at the provider)",
            values.len()
        ));
    }
    let mut ports = Vec::with_capacity(values.len());
    for value in values {
        let port = value
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p >= 1024)
            .ok_or_else(|| match value.as_u64() {
                Some(0) => "must not contain 0; leave \"loopbackPorts\" out for an ephemeral port"
                    .to_owned(),
                _ => format!("must list port numbers from 1024 to 65535, not {value}"),
            })?;
        if ports.contains(&port) {
            return Err(format!("lists port {port} twice"));
        }
        ports.push(port);
    }
    Ok(ports)
}

/// Provider and API endpoints must be https, except on a loopback address.
pub(crate) fn check_endpoint_url(text: &str) -> Result<(), String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL ({e}): {text:?}"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("must not have a query or fragment: {text:?}"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(format!(
            "must be an https URL (http is allowed only for 127.0.0.1, [::1] or localhost): {text:?}"
        )),
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, ConfigError> {
        Config::parse(json, "auth_config.json")
    }

    #[test]
    fn accepts_the_design_example() {
        let config = parse(
            r#"{ "issuer": "https://tenant.us.auth0.com/", "clientId": "abc",
                 "audience": "https://api.example.com", "scopes": "openid profile email offline_access",
                 "apiUrl": "http://127.0.0.1:6060", "redirect": "loopback" }"#,
        )
        .unwrap();
        assert_eq!(config.issuer.as_str(), "https://tenant.us.auth0.com/");
        assert_eq!(config.audience.as_deref(), Some("https://api.example.com"));
        assert_eq!(config.redirect, RedirectMode::Loopback);
    }

    #[test]
    fn auth0_domain_becomes_an_https_issuer() {
        let config = parse(r#"{ "domain": "tenant.eu.auth0.com", "clientId": "abc", "apiUrl": "https://api.example.com" }"#).unwrap();
        assert_eq!(config.issuer.as_str(), "https://tenant.eu.auth0.com/");
        assert_eq!(
            config.scopes,
            ["openid", "profile", "email", "offline_access"]
        );
    }

    #[test]
    fn each_mistake_names_its_field() {
        let cases = [
            (
                r#"{ "issuer": "https://a.example/", "apiUrl": "https://a.example" }"#,
                "\"clientId\" is missing",
            ),
            (
                r#"{ "clientId": "x", "apiUrl": "https://a.example" }"#,
                "\"issuer\" is missing",
            ),
            (
                r#"{ "issuer": "http://idp.example.com/", "clientId": "x", "apiUrl": "https://a.example" }"#,
                "\"issuer\" must be an https URL",
            ),
            (
                r#"{ "issuer": "https://a.example/", "clientId": "x", "apiUrl": "ftp://a.example" }"#,
                "\"apiUrl\" must be an https URL",
            ),
            (
                r#"{ "issuer": "https://a.example/", "clientId": "x", "apiUrl": "https://a.example", "redirect": "popup" }"#,
                "\"redirect\" must be \"loopback\" or \"deep-link\", not \"popup\"",
            ),
            (
                r#"{ "issuer": "https://a.example/", "clientId": "x", "apiUrl": "https://a.example", "scopes": "profile" }"#,
                "\"scopes\" must include \"openid\"",
            ),
            (
                r#"{ "issuer": "https://a.example/", "clientId": "x", "apiUrl": "https://a.example", "clientSecret": "s" }"#,
                "unknown field `clientSecret`",
            ),
            (
                r#"{ "issuer": "https://a.example/", "clientId": 7, "apiUrl": "https://a.example" }"#,
                "invalid type",
            ),
            (r#"{ "issuer": "https://a.example/", "#, "line 1"),
        ];
        for (json, expected) in cases {
            let message = parse(json).unwrap_err().to_string();
            assert!(
                message.contains(expected),
                "{json}\n  gave: {message}\n  wanted: {expected}"
            );
            assert!(
                message.starts_with("auth_config.json"),
                "names the file: {message}"
            );
        }
    }

    #[test]
    fn loopback_ports_are_checked_when_the_file_is_read() {
        let with = |ports: &str| {
            parse(&format!(
                r#"{{ "issuer": "https://a.example/", "clientId": "x", "apiUrl": "https://a.example", "loopbackPorts": {ports} }}"#
            ))
        };
        assert_eq!(
            with("[53682, 53683]").unwrap().loopback_ports,
            [53682, 53683]
        );
        assert!(with("[]").unwrap().loopback_ports.is_empty());
        for (ports, expected) in [
            ("[0]", "must not contain 0"),
            ("[53682, 53682]", "lists port 53682 twice"),
            ("[80]", "from 1024 to 65535, not 80"),
            ("[70000]", "not 70000"),
            ("[\"53682\"]", "not \"53682\""),
            ("[1,2,3,4,5,6,7,8,9,10,11]", "give at most 10"),
            ("5", "invalid type"),
        ] {
            let message = with(ports).unwrap_err().to_string();
            assert!(message.contains(expected), "{ports}: {message}");
            assert!(
                message.contains("loopbackPorts") || expected == "invalid type",
                "{message}"
            );
        }
    }

    #[test]
    fn endpoints_a_provider_does_not_advertise_can_be_given() {
        let with = |fields: &str| {
            parse(&format!(
                r#"{{ "issuer": "https://a.example/o", "clientId": "x", "apiUrl": "https://a.example", {fields} }}"#
            ))
        };
        let config = with(
            r#""revocationEndpoint": "https://a.example/o/revoke_token/", "deviceAuthorizationEndpoint": "https://a.example/o/device-authorization/""#,
        )
        .unwrap();
        assert_eq!(
            config.endpoints.revocation.unwrap().as_str(),
            "https://a.example/o/revoke_token/"
        );
        assert_eq!(
            config.endpoints.device_authorization.unwrap().as_str(),
            "https://a.example/o/device-authorization/"
        );
        for (fields, expected) in [
            (
                r#""revocationEndpoint": "http://a.example/revoke""#,
                "\"revocationEndpoint\" must be an https URL",
            ),
            (
                r#""deviceAuthorizationEndpoint": "device""#,
                "\"deviceAuthorizationEndpoint\" is not a URL",
            ),
        ] {
            let message = with(fields).unwrap_err().to_string();
            assert!(message.contains(expected), "{fields}: {message}");
        }
    }

    #[test]
    fn loopback_may_use_plain_http() {
        for ok in [
            "http://127.0.0.1:6080/",
            "http://[::1]:6080/",
            "http://localhost:6080/",
        ] {
            assert!(check_endpoint_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1.example.com/",
            "http://10.0.0.1/",
            "file:///etc/passwd",
        ] {
            assert!(check_endpoint_url(bad).is_err(), "{bad}");
        }
    }
}
