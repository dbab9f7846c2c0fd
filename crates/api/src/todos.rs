//! `/api/todos`: each caller's own list, keyed by the access token's `sub` and nothing the
//! client sends. Another user's todo is answered exactly like a missing one (404).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::store::{Store, Todo, TodoChange};
use crate::{ApiError, AppState, Claims};

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// How many todos one user may keep.
pub const MAX_TODOS_PER_USER: i64 = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTodo {
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TodoPatch {
    title: Option<String>,
    done: Option<bool>,
}

fn store(state: &AppState) -> Result<&Store, ApiError> {
    state
        .store
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("this API has no todo storage configured".into()))
}

/// A title as stored: trimmed, 1 to [`MAX_TITLE_CHARS`] characters, no control characters.
fn title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    if title.is_empty() {
        return Err(ApiError::Invalid("title: must not be empty".into()));
    }
    let chars = title.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(ApiError::Invalid(format!(
            "title: at most {MAX_TITLE_CHARS} characters (this one has {chars})"
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(ApiError::Invalid(
            "title: must not contain control characters (line breaks, tabs, …)".into(),
        ));
    }
    Ok(title.to_owned())
}

/// Ids are UUIDs; anything else cannot name a todo.
fn todo_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::NotFound("todo"))
}

pub async fn list(
    State(state): State<AppState>,
    claims: Claims,
) -> Result<Json<Vec<Todo>>, ApiError> {
    Ok(Json(store(&state)?.list(&claims.sub).await?))
}

pub async fn create(
    State(state): State<AppState>,
    claims: Claims,
    body: Result<Json<NewTodo>, JsonRejection>,
) -> Result<(StatusCode, Json<Todo>), ApiError> {
    let Json(new) = body?;
    let title = title(&new.title)?;
    let store = store(&state)?;
    if store.count(&claims.sub).await? >= MAX_TODOS_PER_USER {
        return Err(ApiError::Invalid(format!(
            "you already have {MAX_TODOS_PER_USER} todos; delete some first"
        )));
    }
    Ok((
        StatusCode::CREATED,
        Json(store.add(&claims.sub, &title).await?),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    claims: Claims,
    Path(id): Path<String>,
) -> Result<Json<Todo>, ApiError> {
    let id = todo_id(&id)?;
    store(&state)?
        .get(&claims.sub, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("todo"))
}

pub async fn update(
    State(state): State<AppState>,
    claims: Claims,
    Path(id): Path<String>,
    body: Result<Json<TodoPatch>, JsonRejection>,
) -> Result<Json<Todo>, ApiError> {
    let id = todo_id(&id)?;
    let Json(patch) = body?;
    if patch.title.is_none() && patch.done.is_none() {
        return Err(ApiError::Invalid(
            "nothing to change: send title, done, or both".into(),
        ));
    }
    let change = TodoChange {
        title: patch.title.as_deref().map(title).transpose()?,
        done: patch.done,
    };
    store(&state)?
        .update(&claims.sub, &id, &change)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("todo"))
}

pub async fn delete(
    State(state): State<AppState>,
    claims: Claims,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = todo_id(&id)?;
    if store(&state)?.delete(&claims.sub, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("todo"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(title("  milk ").unwrap(), "milk");
        assert!(title("   ").is_err());
        assert!(title(&"x".repeat(MAX_TITLE_CHARS)).is_ok());
        assert!(title(&"é".repeat(MAX_TITLE_CHARS + 1)).is_err());
        assert!(title("two\nlines").is_err());
    }

    #[test]
    fn only_uuids_name_todos() {
        assert!(todo_id("1").is_err());
        assert!(todo_id("../etc/passwd").is_err());
        let id = uuid::Uuid::new_v4().to_string();
        assert_eq!(todo_id(&id).unwrap(), id);
    }
}
