use latchkey_ipc::guest;
use latchkey_ipc::{Page, SessionView};
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
                    SessionView::SignedIn { profile } => {
                        let picture = profile.picture.clone().unwrap_or_default();
                        let alt = format!("{}'s picture", profile.name);
                        view! {
                            img(class="avatar", src=picture, alt=alt)
                            span(id="nav-user") { (profile.name.clone()) }
                            button(id="logout", class="secondary", on:click=move |_| state.run(guest::logout)) { "Log out" }
                        }
                    }
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
