use latchkey_ipc::guest;
use latchkey_ipc::{AccountView, Page, ProfileView, SessionView};
use sycamore::prelude::*;

use crate::state::AppState;

#[component]
pub fn NavBar() -> View {
    let state = use_context::<AppState>();
    let link = move |page: Page, id: &'static str| {
        view! {
            button(
                id=id,
                aria-current=move || if state.page.get() == page { "page" } else { "false" },
                on:click=move |_| state.go(page),
            ) {
                (page.title())
            }
        }
    };
    view! {
        nav(class="bar", aria-label="Latchkey") {
            div(class="brand") { img(src="icon.png", alt="") "Latchkey" }
            div(class="links") {
                (link(Page::Home, "nav-home"))
                (link(Page::Profile, "nav-profile"))
                (link(Page::Todos, "nav-todos"))
                (link(Page::ExternalApi, "nav-api"))
                (if state.may_list_users() { link(Page::Users, "nav-users") } else { view! {} })
            }
            div(class="user") {
                (match state.session.get_clone() {
                    SessionView::SignedIn { profile } => view! {
                        AccountMenu(profile=profile)
                        button(id="logout", class="secondary", on:click=move |_| state.run(guest::logout)) { "Log out" }
                    },
                    SessionView::Offline { profile, .. } => {
                        let name = profile.map(|p| p.name).unwrap_or_else(|| "Your session".into());
                        view! {
                            span(id="nav-user", class="offline") { (name) " · offline" }
                            button(id="logout", class="secondary", on:click=move |_| state.run(guest::logout)) { "Log out" }
                        }
                    }
                    SessionView::Loading | SessionView::NotConfigured { .. } => view! {},
                    _ => view! {
                        button(id="signup", class="secondary", on:click=move |_| state.run(guest::signup)) { "Sign up" }
                        button(id="login", class="primary", on:click=move |_| state.run(guest::login)) { "Log in" }
                    },
                })
            }
        }
    }
}

/// The signed-in person in the nav, opening the accounts kept: each with picture, name and
/// email, the active one marked, one that needs a sign-in said so; switching is a click,
/// with "Add account", "Sign out of this account" and "Sign out of all" below.
#[component(inline_props)]
fn AccountMenu(profile: ProfileView) -> View {
    let state = use_context::<AppState>();
    let accounts = state.accounts;
    let open = create_signal(false);
    // The command outlives this menu (a switch rebuilds the nav): it runs unscoped, and
    // touches only the app's own signals.
    let switch = move |account: AccountView| {
        open.set(false);
        state.error.set(None);
        sycamore::futures::spawn_local(async move {
            let result = if account.sign_in_again {
                guest::login_another_account().await
            } else {
                guest::switch_account(&account.id).await
            };
            if let Err(message) = result {
                state.error.set(Some(message));
                state.load_accounts();
            }
        });
    };
    let picture = profile.picture.clone().unwrap_or_default();
    let alt = format!("{}'s picture", profile.name);
    let name = profile.name.clone();
    view! {
        div(class="account-menu") {
            button(
                id="account-menu",
                class="account-button",
                aria-haspopup="true",
                aria-expanded=move || open.get().to_string(),
                on:click=move |_| open.set(!open.get()),
            ) {
                img(class="avatar", src=picture, alt=alt)
                span(id="nav-user") { (name) }
                span(class="caret", aria-hidden="true") { "▾" }
            }
            (if open.get() {
                view! {
                    div(id="accounts", class="menu", role="menu") {
                        ul(class="accounts") {
                            Keyed(
                                list=accounts,
                                view=move |account| {
                                    let row = account.clone();
                                    let picture = account.picture.clone().unwrap_or_default();
                                    let class = if account.active { "account active" } else { "account" };
                                    let email = account.email.clone().unwrap_or_default();
                                    let shown_email = email.clone();
                                    let name = account.name.clone();
                                    let (active, sign_in_again) = (account.active, account.sign_in_again);
                                    view! {
                                        li {
                                            button(
                                                class=class,
                                                role="menuitemradio",
                                                aria-checked=active.to_string(),
                                                data-email=email,
                                                on:click=move |_| if !row.active { switch(row.clone()) } else { open.set(false) },
                                            ) {
                                                img(class="avatar", src=picture, alt="")
                                                span(class="who") {
                                                    span(class="account-name") { (name) }
                                                    span(class="account-email muted") { (shown_email) }
                                                }
                                                (if sign_in_again {
                                                    view! { span(class="badge warn") { "Sign in again" } }
                                                } else if active {
                                                    view! { span(class="badge") { "✓ Active" } }
                                                } else {
                                                    view! {}
                                                })
                                            }
                                        }
                                    }
                                },
                                key=|account| (account.id.clone(), account.active, account.sign_in_again),
                            )
                        }
                        div(class="menu-actions") {
                            button(id="add-account", class="secondary", on:click=move |_| { open.set(false); state.run(guest::login_another_account) }) { "Add account" }
                            button(id="menu-logout", class="secondary", on:click=move |_| { open.set(false); state.run(guest::logout) }) { "Sign out of this account" }
                            button(id="logout-all", class="danger", on:click=move |_| { open.set(false); state.run(guest::logout_all) }) { "Sign out of all" }
                        }
                    }
                }
            } else {
                view! {}
            })
        }
    }
}
