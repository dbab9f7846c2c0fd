//! The app's own data, through the sample API from native code: the todo list, the
//! profile form, what the person may do, and (for admins) the provider's users. The web view names what it wants; the shell decides the URL and holds the
//! token.

use latchkey_ipc::{
    Access, Error, ProfileChange, ProfileForm, Todo, TodoChange, UsersPage, explain_status,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tauri::AppHandle;

use tauri_plugin_latchkey::LatchkeyExt;

/// Calls the API at `path` and reads its JSON answer; a refusal becomes the API's own words.
async fn api<T: DeserializeOwned>(
    app: &AppHandle,
    method: Method,
    path: &[&str],
    body: Option<Value>,
) -> Result<T, Error> {
    api_with_query(app, method, path, &[], body).await
}

/// [`api`] with query parameters, encoded here (never a query string from the web view).
async fn api_with_query<T: DeserializeOwned>(
    app: &AppHandle,
    method: Method,
    path: &[&str],
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Result<T, Error> {
    let latchkey = app.latchkey();
    let api = latchkey.api()?;
    let mut url = api.base().clone();
    url.path_segments_mut()
        .map_err(|()| Error::new("the configured apiUrl cannot hold a path"))?
        .pop_if_empty()
        .extend(path);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let response = api
        .send(method, url.as_str(), body.as_ref())
        .await
        .map_err(|e| latchkey.api_error(e))?;
    let text = if response.body.is_empty() {
        "null"
    } else {
        response.body.as_str()
    };
    if (200..300).contains(&response.status) {
        return serde_json::from_str(text)
            .map_err(|e| Error::new(format!("the API answered something unexpected: {e}")));
    }
    let said = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned));
    Err(Error::new(match said {
        Some(message) => format!("The API refused: {message} ({})", response.status),
        None => explain_status(response.status)
            .unwrap_or_else(|| format!("The API answered {}", response.status)),
    }))
}

/// Todo ids come from the API as UUIDs; anything else from the web view is refused here,
/// before it can become part of a URL.
fn todo_id(id: &str) -> Result<&str, Error> {
    let ok = id.len() == 36
        && id.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    if ok {
        Ok(id)
    } else {
        Err(Error::new("that is not a todo id"))
    }
}

#[tauri::command]
pub async fn todos(app: AppHandle) -> Result<Vec<Todo>, Error> {
    api(&app, Method::GET, &["api", "todos"], None).await
}

#[tauri::command]
pub async fn add_todo(app: AppHandle, title: String) -> Result<Todo, Error> {
    api(
        &app,
        Method::POST,
        &["api", "todos"],
        Some(json!({ "title": title })),
    )
    .await
}

#[tauri::command]
pub async fn update_todo(app: AppHandle, id: String, change: TodoChange) -> Result<Todo, Error> {
    let id = todo_id(&id)?;
    let body = serde_json::to_value(&change).map_err(|e| Error::new(e.to_string()))?;
    api(&app, Method::PATCH, &["api", "todos", id], Some(body)).await
}

#[tauri::command]
pub async fn delete_todo(app: AppHandle, id: String) -> Result<(), Error> {
    let id = todo_id(&id)?;
    api::<Value>(&app, Method::DELETE, &["api", "todos", id], None)
        .await
        .map(|_| ())
}

#[tauri::command]
pub async fn profile_form(app: AppHandle) -> Result<ProfileForm, Error> {
    api(&app, Method::GET, &["api", "profile"], None).await
}

/// Saves the names (and email) at the provider through the API, then renews the tokens so
/// the profile view shows what the provider now says.
#[tauri::command]
pub async fn save_profile(app: AppHandle, change: ProfileChange) -> Result<ProfileForm, Error> {
    let body = serde_json::to_value(&change).map_err(|e| Error::new(e.to_string()))?;
    let saved: ProfileForm = api(&app, Method::PATCH, &["api", "profile"], Some(body)).await?;
    app.latchkey().reload_profile().await.map_err(|e| {
        Error::new(format!(
            "Saved, but the new name shows after the next sign-in: {e}"
        ))
    })?;
    Ok(saved)
}

/// What the signed-in person may do, as the sample API reads their access token.
#[tauri::command]
pub async fn access(app: AppHandle) -> Result<Access, Error> {
    api(&app, Method::GET, &["api", "me"], None).await
}

/// A page of the provider's users matching `search`; the API checks `read:users`.
#[tauri::command]
pub async fn users(app: AppHandle, search: String, page: u32) -> Result<UsersPage, Error> {
    let page = page.to_string();
    api_with_query(
        &app,
        Method::GET,
        &["api", "users"],
        &[("q", search.trim()), ("page", &page)],
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::todo_id;

    #[test]
    fn only_uuid_shaped_ids_reach_a_url() {
        assert!(todo_id("3f2b8c1e-9a4d-4e5f-8a7b-1c2d3e4f5a6b").is_ok());
        for bad in [
            "",
            "1",
            "../../admin",
            "3f2b8c1e/9a4d-4e5f-8a7b-1c2d3e4f5a6b",
            "3f2b8c1e-9a4d-4e5f-8a7b-1c2d3e4f5a6?",
        ] {
            assert!(todo_id(bad).is_err(), "{bad}");
        }
    }
}
