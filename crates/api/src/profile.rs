//! `/api/profile`: the caller's own names (and email, for password accounts), read and
//! changed through the provider's management API. Names are kept in `user_metadata`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::management::{ManagedUser, Management};
use crate::{ApiError, AppState, Claims};

/// The longest name part, in characters.
pub const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileForm {
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub email_editable: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
}

fn management(state: &AppState) -> Result<&Management, ApiError> {
    state.management.as_deref().ok_or_else(|| {
        ApiError::Unavailable(
            "this API has no management client configured, so profiles cannot be changed here"
                .into(),
        )
    })
}

fn form(user: &ManagedUser) -> ProfileForm {
    ProfileForm {
        given_name: user.given_name(),
        family_name: user.family_name(),
        email: user.email.clone(),
        email_editable: user.email_editable(),
    }
}

fn name_part(field: &str, raw: &str) -> Result<String, ApiError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(ApiError::Invalid(format!("{field}: must not be empty")));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Invalid(format!(
            "{field}: at most {MAX_NAME_CHARS} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::Invalid(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}

pub async fn get(
    State(state): State<AppState>,
    claims: Claims,
) -> Result<Json<ProfileForm>, ApiError> {
    let user = management(&state)?.get_user(&claims.sub).await?;
    Ok(Json(form(&user)))
}

pub async fn update(
    State(state): State<AppState>,
    claims: Claims,
    body: Result<Json<ProfilePatch>, JsonRejection>,
) -> Result<Json<ProfileForm>, ApiError> {
    let Json(patch) = body?;
    let management = management(&state)?;
    let mut metadata = Map::new();
    if let Some(given) = &patch.given_name {
        metadata.insert("given_name".into(), name_part("givenName", given)?.into());
    }
    if let Some(family) = &patch.family_name {
        metadata.insert(
            "family_name".into(),
            name_part("familyName", family)?.into(),
        );
    }
    let mut body = json!({});
    if !metadata.is_empty() {
        body["user_metadata"] = Value::Object(metadata);
    }
    if let Some(email) = &patch.email {
        let email = email.trim();
        let current = management.get_user(&claims.sub).await?;
        if current.email.as_deref() != Some(email) {
            if !current.email_editable() {
                return Err(ApiError::Invalid(
                    "email: only accounts that sign in with a password here can change it; \
                     change it at your social sign-in provider"
                        .into(),
                ));
            }
            body["email"] = email.into();
        }
    }
    if body.as_object().is_some_and(Map::is_empty) {
        return Err(ApiError::Invalid(
            "nothing to change: send givenName, familyName or email".into(),
        ));
    }
    let user = management.patch_user(&claims.sub, &body).await?;
    Ok(Json(form(&user)))
}
