//! The provider's users, for people holding `read:users`: search by name or email, page by
//! page. The shell asks the sample API, which asks the provider's management API with its
//! own credentials; a person without the permission gets the API's 403 in words.

use latchkey_ipc::{UserRow, UsersPage};
use serde::Serialize;
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;

#[derive(Serialize)]
struct Search {
    search: String,
    page: u32,
}

#[component]
pub fn UsersPage() -> View {
    let typed = create_signal(String::new());
    let shown = create_signal(None::<UsersPage>);
    let error = create_signal(None::<String>);
    let busy = create_signal(false);
    // The search the shown page belongs to (paging keeps it even if the box changed).
    let searched = create_signal(String::new());
    let load = move |search: String, page: u32| {
        busy.set(true);
        error.set(None);
        spawn_local_scoped(async move {
            let args = Search {
                search: search.clone(),
                page,
            };
            match crate::tauri::invoke::<UsersPage>("users", args).await {
                Ok(found) => {
                    searched.set(search);
                    shown.set(Some(found));
                }
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    load(String::new(), 0);
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        load(typed.get_clone(), 0);
    };
    view! {
        section(class="card") {
            h2 { "Users" }
            form(id="users-form", class="users-search", on:submit=submit) {
                input(id="users-search", r#type="search", maxlength="64", aria-label="Search users", placeholder="Search by name or email", bind:value=typed)
                button(id="users-search-go", class="primary", r#type="submit", disabled=busy.get()) { "Search" }
            }
            (match error.get_clone() {
                Some(message) => view! { div(id="users-error", class="notice error") { (message) } },
                None => view! {},
            })
            (match shown.get_clone() {
                None if busy.get() => view! { p(class="muted") { "Loading users…" } },
                None => view! {},
                Some(found) => {
                    let from = u64::from(found.page) * u64::from(found.per_page);
                    let summary = match found.total {
                        0 => "No users match.".to_owned(),
                        total => format!("{}–{} of {total}", from + 1, from + found.users.len() as u64),
                    };
                    let (page, has_next) = (found.page, found.has_next());
                    let rows = found.users.into_iter().map(row).collect::<Vec<_>>();
                    view! {
                        p(id="users-total", class="muted") { (summary) }
                        ul(id="users-list", class="users") { (rows) }
                        div(class="actions") {
                            button(id="users-prev", class="secondary", disabled=page == 0 || busy.get(),
                                on:click=move |_| load(searched.get_clone(), page.saturating_sub(1))) { "Previous" }
                            button(id="users-next", class="secondary", disabled=!has_next || busy.get(),
                                on:click=move |_| load(searched.get_clone(), page.saturating_add(1))) { "Next" }
                        }
                    }
                }
            })
        }
    }
}

fn row(user: UserRow) -> View {
    let picture = user.picture.unwrap_or_default();
    let email = user.email.unwrap_or_default();
    let last = match user.last_login {
        Some(at) => last_signed_in(&at),
        None => "never signed in".to_owned(),
    };
    view! {
        li(class="user-row") {
            img(class="avatar", src=picture, alt="")
            div {
                span(class="user-name") { (user.name) }
                span(class="user-email muted") { (email) }
            }
            span(class="user-last muted") { (last) }
        }
    }
}

/// "last signed in 2026-12-03 19:26 UTC" from the provider's RFC 3339 time (minutes are
/// enough; a time that is not RFC 3339 is shown as it came).
fn last_signed_in(at: &str) -> String {
    match (at.get(..16), at.ends_with('Z')) {
        (Some(minutes), true) => format!("last signed in {} UTC", minutes.replace('T', " ")),
        _ => format!("last signed in {at}"),
    }
}

#[cfg(test)]
mod tests {
    use super::last_signed_in;

    #[test]
    fn the_last_sign_in_is_shown_to_the_minute_in_utc() {
        assert_eq!(
            last_signed_in("2026-12-03T19:26:41.000Z"),
            "last signed in 2026-12-03 19:26 UTC"
        );
        assert_eq!(last_signed_in("yesterday"), "last signed in yesterday");
    }
}
