use latchkey_ipc::{ProfileChange, ProfileForm, SessionView};
use serde::Serialize;
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;

use crate::state::AppState;

#[component]
pub fn ProfilePage() -> View {
    let state = use_context::<AppState>();
    let profile = move || match state.session.get_clone() {
        SessionView::SignedIn { profile } => Some(profile),
        _ => None,
    };
    // The form is built once per sign-in, not again when a save renames the person.
    let signed_in = create_selector(move || state.signed_in());
    view! {
        (match profile() {
            Some(profile) => {
                let picture = profile.picture.clone().unwrap_or_default();
                let email = profile.email.clone().unwrap_or_default();
                view! {
                    section(class="card") {
                        div(class="profile-head") {
                            img(id="profile-picture", src=picture, alt="Profile picture")
                            div {
                                h2(id="profile-name") { (profile.name.clone()) }
                                p(id="profile-email") { (email) }
                            }
                        }
                    }
                }
            }
            None => view! { p(class="muted") { "Sign in to see your profile." } },
        })
        (if signed_in.get() { view! { EditProfile() } } else { view! {} })
        (if signed_in.get() { view! { Permissions() } } else { view! {} })
        (match profile() {
            Some(profile) => view! {
                section(class="card") {
                    h3 { "ID token claims" }
                    pre(id="profile-claims", class="code") { (profile.claims_json.clone()) }
                }
            },
            None => view! {},
        })
    }
}

#[derive(Serialize)]
struct SaveProfile {
    change: ProfileChange,
}

/// Names (and email, for password accounts) as the provider keeps them, changed through the
/// sample API, which alone holds the management credentials.
#[component]
fn EditProfile() -> View {
    let given = create_signal(String::new());
    let family = create_signal(String::new());
    let email = create_signal(String::new());
    let email_editable = create_signal(false);
    let loaded = create_signal(false);
    let busy = create_signal(false);
    let outcome = create_signal(None::<Result<String, String>>);
    let fill = move |form: ProfileForm| {
        given.set(form.given_name);
        family.set(form.family_name);
        email.set(form.email.unwrap_or_default());
        email_editable.set(form.email_editable);
        loaded.set(true);
    };
    spawn_local_scoped(async move {
        match crate::tauri::invoke::<ProfileForm>("profile_form", ()).await {
            Ok(form) => fill(form),
            Err(message) => outcome.set(Some(Err(format!(
                "Your profile cannot be edited right now. {message}"
            )))),
        }
    });
    let save = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        busy.set(true);
        outcome.set(None);
        let change = ProfileChange {
            given_name: given.get_clone(),
            family_name: family.get_clone(),
            email: email_editable.get().then(|| email.get_clone()),
        };
        spawn_local_scoped(async move {
            match crate::tauri::invoke::<ProfileForm>("save_profile", SaveProfile { change }).await
            {
                Ok(form) => {
                    fill(form);
                    outcome.set(Some(Ok("Saved.".into())));
                }
                Err(message) => outcome.set(Some(Err(message))),
            }
            busy.set(false);
        });
    };
    view! {
        section(class="card") {
            h3 { "Your name" }
            form(id="profile-form", class="profile-form", on:submit=save) {
                label { "First name" input(id="profile-given-name", r#type="text", maxlength="100", disabled=!loaded.get(), bind:value=given) }
                label { "Last name" input(id="profile-family-name", r#type="text", maxlength="100", disabled=!loaded.get(), bind:value=family) }
                (if email_editable.get() {
                    view! { label { "Email" input(id="profile-email-input", r#type="email", maxlength="254", bind:value=email) } }
                } else {
                    view! {}
                })
                div(class="actions") {
                    button(id="profile-save", class="primary", r#type="submit", disabled=busy.get() || !loaded.get()) {
                        (if busy.get() { "Saving…" } else { "Save" })
                    }
                }
            }
            (match outcome.get_clone() {
                Some(Ok(text)) => view! { div(id="profile-saved", class="notice ok") { (text) } },
                Some(Err(text)) => view! { div(id="profile-error", class="notice error") { (text) } },
                None => view! {},
            })
        }
    }
}

/// What the person may do, as the sample API reads their access token (the web view never
/// decodes a token).
#[component]
fn Permissions() -> View {
    let state = use_context::<AppState>();
    view! {
        section(class="card") {
            h3 { "What you may do" }
            (match state.access.get_clone() {
                None => view! { p(class="muted") { "Asking the API…" } },
                Some(Err(message)) => view! {
                    p(id="profile-permissions", class="notice error") {
                        "The API could not say what you may do: " (message)
                    }
                },
                Some(Ok(access)) => {
                    let listed = |items: Vec<String>, id: &'static str, none: &'static str| {
                        if items.is_empty() {
                            view! { p(id=id, class="muted") { (none) } }
                        } else {
                            let items = items.into_iter().map(|p| view! { li { code { (p) } } }).collect::<Vec<_>>();
                            view! { ul(id=id, class="permissions") { (items) } }
                        }
                    };
                    let permissions =
                        listed(access.permissions, "profile-permissions", "No permissions beyond your own data.");
                    if access.roles.is_empty() {
                        permissions
                    } else {
                        let roles = listed(access.roles, "profile-roles", "");
                        View::from(vec![permissions, view! { h4 { "Roles" } }, roles])
                    }
                }
            })
        }
    }
}
