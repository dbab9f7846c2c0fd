//! `/api/me`: what the caller may do, as this API reads their access token; `/api/users`:
//! the provider's users, for callers holding `read:users`, through the provider's
//! management API with this API's own client (the desktop app never holds those
//! credentials).

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use crate::management::ListedUser;
use crate::{ApiError, AppState, Claims};

/// The permission the user list needs.
pub const USERS_PERMISSION: &str = "read:users";
/// Users per page.
pub const PER_PAGE: u32 = 10;
/// The longest search, in characters.
pub const MAX_QUERY_CHARS: usize = 64;
/// The last page a search may ask for (Auth0 lists at most 1,000 results).
pub const MAX_PAGE: u32 = 1000 / PER_PAGE - 1;

#[derive(Debug, Serialize)]
pub struct Me {
    pub sub: String,
    pub permissions: Vec<String>,
    /// Auth0 roles, when an Action put them in the token under a `…/roles` claim.
    pub roles: Vec<String>,
}

pub async fn me(claims: Claims) -> Json<Me> {
    Json(Me {
        roles: claims.roles.clone(),
        sub: claims.sub.clone(),
        permissions: claims.permissions.clone(),
    })
}

#[derive(Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
    pub last_login: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    pub users: Vec<UserRow>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

pub async fn list(
    State(state): State<AppState>,
    claims: Claims,
    Query(query): Query<UsersQuery>,
) -> Result<Json<UsersPage>, ApiError> {
    claims.require(USERS_PERMISSION)?;
    let page = match query.page.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|&p| p <= MAX_PAGE)
            .ok_or_else(|| {
                ApiError::Invalid(format!("page: a whole number from 0 to {MAX_PAGE}"))
            })?,
    };
    let lucene = lucene_query(&query.q)?;
    let management = state.management.as_deref().ok_or_else(|| {
        ApiError::Unavailable(
            "this API has no management client configured, so users cannot be listed here".into(),
        )
    })?;
    let listed = management.list_users(&lucene, page, PER_PAGE).await?;
    Ok(Json(UsersPage {
        users: listed.users.into_iter().map(row).collect(),
        total: listed.total,
        page,
        per_page: PER_PAGE,
    }))
}

fn row(user: ListedUser) -> UserRow {
    let metadata = |key: &str| {
        user.user_metadata
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let from_metadata = match (metadata("given_name"), metadata("family_name")) {
        (None, None) => None,
        (given, family) => Some(
            [given, family]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    UserRow {
        name: from_metadata
            .or(user.name)
            .or_else(|| user.email.clone())
            .unwrap_or_else(|| user.user_id.clone()),
        id: user.user_id,
        email: user.email,
        picture: user.picture,
        last_login: user.last_login,
    }
}

/// The search as Auth0's query syntax (Lucene, search engine v3): each word must start the
/// name or the email. Only letters, digits, spaces and `@ . _ -` are taken, so nothing the
/// person types can change the query's meaning.
pub fn lucene_query(search: &str) -> Result<String, ApiError> {
    let search = search.trim();
    if search.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::Invalid(format!(
            "q: at most {MAX_QUERY_CHARS} characters"
        )));
    }
    if let Some(bad) = search
        .chars()
        .find(|c| !(c.is_alphanumeric() || c.is_whitespace() || "@._-".contains(*c)))
    {
        return Err(ApiError::Invalid(format!(
            "q: {bad:?} cannot be searched for; use letters, digits, spaces and @ . _ -"
        )));
    }
    let terms: Vec<String> = search
        .split_whitespace()
        .map(|word| {
            let word = word.to_lowercase().replace('-', "\\-");
            format!("(name:{word}* OR email:{word}*)")
        })
        .collect();
    Ok(terms.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_become_queries_that_cannot_be_escaped() {
        assert_eq!(lucene_query("").unwrap(), "");
        assert_eq!(
            lucene_query(" Jemma ").unwrap(),
            "(name:jemma* OR email:jemma*)"
        );
        assert_eq!(
            lucene_query("jem doe").unwrap(),
            "(name:jem* OR email:jem*) AND (name:doe* OR email:doe*)"
        );
        assert_eq!(
            lucene_query("a-b").unwrap(),
            "(name:a\\-b* OR email:a\\-b*)"
        );
        for bad in ["x OR name:*", "*", "a\"b", "(x)", "a:b", "x\\y"] {
            let err = lucene_query(bad).unwrap_err().to_string();
            assert!(err.starts_with("q: "), "{bad}: {err}");
        }
        assert!(lucene_query(&"x".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }
}
