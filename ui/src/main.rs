//! Latchkey's UI: renders the session views the shell pushes, asks it for actions, and
//! never holds a token.

mod components;
mod pages;
mod state;
mod tauri;

use latchkey_ipc::{Page, SessionView};
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;

use components::nav::NavBar;
use components::waiting::Waiting;
use pages::external_api::ExternalApiPage;
use pages::home::HomePage;
use pages::profile::ProfilePage;
use state::AppState;

#[component]
fn App() -> View {
    let state = AppState::new();
    provide_context(state);
    spawn_local_scoped(async move {
        tauri::listen_session(move |view| state.apply(view)).await;
        match tauri::invoke::<SessionView>("session", ()).await {
            Ok(view) => state.apply(view),
            Err(message) => state.error.set(Some(message)),
        }
    });
    view! {
        NavBar()
        main(class="content") {
            (match state.error.get_clone() {
                Some(message) => view! { div(id="command-error", class="notice error") { (message) } },
                None => view! {},
            })
            (match state.session.get_clone() {
                SessionView::Loading => view! {
                    div(id="loading", class="loading") { div(class="spinner") {} "Restoring your session…" }
                },
                SessionView::WaitingForBrowser { sign_in_url, signup } => view! { Waiting(sign_in_url=sign_in_url, signup=signup) },
                SessionView::SignedOut { message } => view! {
                    (match message.clone() {
                        Some(text) => view! { div(id="signed-out-message", class="notice error") { (text) } },
                        None => view! {},
                    })
                    (page(state.page.get()))
                },
                SessionView::SignedIn { .. } => page(state.page.get()),
            })
        }
    }
}

fn page(page: Page) -> View {
    match page {
        Page::Home => view! { HomePage() },
        Page::Profile => view! { ProfilePage() },
        Page::ExternalApi => view! { ExternalApiPage() },
    }
}

fn main() {
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    sycamore::render(App);
}
