//! The device authorization grant (RFC 8628), for machines whose browser cannot reach this
//! machine's loopback: SSH sessions, WSL, containers, servers. The person opens the
//! verification URL anywhere, enters the code, and the tokens that come back are validated and
//! stored exactly like a browser sign-in's.

use std::time::Duration;

use openidconnect::core::CoreDeviceAuthorizationResponse;
use openidconnect::{DeviceAuthorizationUrl, RequestTokenError, Scope};
use url::Url;

use crate::error::ProviderError;
use crate::login::LoginError;
use crate::profile::Profile;
use crate::session::Session;
use crate::tokens::Grant;

/// The longest poll interval accepted from a provider (RFC 8628 suggests 5 s).
pub const MAX_DEVICE_INTERVAL: Duration = Duration::from_secs(60);
/// The longest device code lifetime accepted (providers give 5 to 30 minutes).
pub const MAX_DEVICE_LIFETIME: Duration = Duration::from_secs(3600);

/// What the person needs to approve this device, to show in the terminal.
#[derive(Clone, Debug)]
pub struct DeviceCode {
    /// Where the person goes, on any device, to enter the code.
    pub verification_uri: Url,
    /// The URL with the code in it, when the provider gives one (for a QR code or a click).
    pub verification_uri_complete: Option<String>,
    /// The code the person types: not a secret on its own, it only works with the device's.
    pub user_code: String,
    /// How long the code stays valid.
    pub expires_in: Duration,
    /// How often the provider may be asked whether the code was approved.
    pub interval: Duration,
}

impl Session {
    /// Signs in with the device authorization grant: asks the provider for a code, hands it to
    /// `on_code` to show, then polls at the provider's interval (slower on `slow_down`) until
    /// the person approves, denies, or the code expires.
    pub async fn login_device(
        &self,
        on_code: impl FnOnce(&DeviceCode) + Send,
    ) -> Result<Profile, LoginError> {
        let provider = self.provider().await?;
        let config = &self.inner.config;
        let endpoint = provider
            .device_authorization_endpoint()
            .map(|e| e.url.clone())
            .ok_or(LoginError::DeviceUnsupported)?;
        let client = provider
            .client
            .clone()
            .set_device_authorization_url(DeviceAuthorizationUrl::from_url(endpoint));
        let mut request = client.exchange_device_code().add_scopes(
            config
                .scopes
                .iter()
                .filter(|s| *s != "openid")
                .map(|s| Scope::new(s.clone())),
        );
        if let Some(audience) = &config.audience {
            request = request.add_extra_param("audience", audience.clone());
        }
        let details: CoreDeviceAuthorizationResponse = request
            .request_async(&self.inner.http)
            .await
            .map_err(|e| LoginError::Device(ProviderError::request(e)))?;
        let code = check_device_answer(&details)?;
        on_code(&code);
        let dpop = self.new_dpop_key(&provider);
        let request = client
            .exchange_device_access_token(&details)
            .map_err(|e| LoginError::Device(ProviderError::unusable(e)))?;
        let answer = match &dpop {
            Some(key) => {
                request
                    .request_async(
                        &self.dpop_http(key),
                        tokio::time::sleep,
                        Some(code.expires_in),
                    )
                    .await
            }
            None => {
                request
                    .request_async(&self.inner.http, tokio::time::sleep, Some(code.expires_in))
                    .await
            }
        };
        let response = answer.map_err(|err| match &err {
            RequestTokenError::ServerResponse(e) => match e.error().as_ref() {
                "access_denied" => LoginError::Provider {
                    error: "access_denied".into(),
                    description: None,
                },
                "expired_token" => LoginError::DeviceCodeExpired,
                _ => LoginError::Device(ProviderError::request(err)),
            },
            _ => LoginError::Device(ProviderError::request(err)),
        })?;
        let accepted = self
            .check_answer(&provider, &response, Grant::Device, dpop)
            .await?;
        Ok(self.sign_in_with(response, accepted).await?)
    }
}

/// What is wrong with a provider's device authorization answer (RFC 8628 §3.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceAnswerProblem {
    /// `interval` is 0 or longer than [`MAX_DEVICE_INTERVAL`].
    #[error("asks to poll every {} s; 1 to {} s is accepted", .0.as_secs(), MAX_DEVICE_INTERVAL.as_secs())]
    Interval(Duration),
    /// `expires_in` is 0 or longer than [`MAX_DEVICE_LIFETIME`].
    #[error("gives the code a lifetime of {} s; 1 s to 1 hour is accepted", .0.as_secs())]
    Lifetime(Duration),
    /// `user_code` is empty or longer than 64 characters.
    #[error("has no usable user_code")]
    UserCode,
    /// `verification_uri` is not a URL.
    #[error("has no valid verification_uri")]
    VerificationUri,
}

/// Refuses an answer that could not work or would make the CLI poll in a busy loop.
fn check_device_answer(
    details: &CoreDeviceAuthorizationResponse,
) -> Result<DeviceCode, LoginError> {
    let bad = LoginError::DeviceAnswer;
    let interval = details.interval();
    if interval.is_zero() || interval > MAX_DEVICE_INTERVAL {
        return Err(bad(DeviceAnswerProblem::Interval(interval)));
    }
    let expires_in = details.expires_in();
    if expires_in.is_zero() || expires_in > MAX_DEVICE_LIFETIME {
        return Err(bad(DeviceAnswerProblem::Lifetime(expires_in)));
    }
    let user_code = details.user_code().secret().trim().to_owned();
    if user_code.is_empty() || user_code.len() > 64 {
        return Err(bad(DeviceAnswerProblem::UserCode));
    }
    let verification_uri = Url::parse(details.verification_uri().as_str())
        .map_err(|_| bad(DeviceAnswerProblem::VerificationUri))?;
    Ok(DeviceCode {
        verification_uri,
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| u.secret().clone()),
        user_code,
        expires_in,
        interval,
    })
}
