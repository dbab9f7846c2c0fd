//! Latchkey's UI: renders the session views the shell pushes, asks it for actions, and
//! never holds a token.

mod components;
mod pages;
mod palette;
mod state;
mod tauri;

use latchkey_ipc::{Page, ProviderSession, SessionView, StartupMark, guest};
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;

use components::nav::NavBar;
use components::offline::{Offline, OfflinePage};
use components::provider_session::ProviderSessionNotice;
use components::setup::Setup;
use components::update::{UpdateBanner, UpdateFooter, provide_update_status};
use components::waiting::{Waiting, WaitingForDevice};
use pages::external_api::ExternalApiPage;
use pages::home::HomePage;
use pages::profile::ProfilePage;
use pages::todos::TodosPage;
use pages::users::UsersPage;
use state::AppState;

#[component]
fn App() -> View {
    let state = AppState::new();
    provide_context(state);
    provide_update_status();
    spawn_local_scoped(async move {
        guest::on_session_changed(move |view| state.apply(view)).await;
        match guest::session().await {
            Ok(view) => state.apply(view),
            Err(message) => state.error.set(Some(message)),
        }
    });
    // What the main area shows. Signed in, it depends on nothing but the page: a fresh
    // profile (a renamed person) updates the views that show it without rebuilding the page
    // and losing what is typed or said there.
    let screen = create_selector(move || state.session.with(Screen::of));
    on_mount(|| state::mark(StartupMark::FirstPaint));
    view! {
        NavBar()
        main(class="content") {
            UpdateBanner()
            (match state.error.get_clone() {
                Some(message) => view! { div(id="command-error", class="notice error") { (message) } },
                None => view! {},
            })
            (match screen.get_clone() {
                Screen::Loading => view! {
                    div(id="loading", class="loading") { div(class="spinner") {} "Restoring your session…" }
                },
                Screen::NotConfigured { config_path, problem, dev_stack_example, loopback_ports, callback_urls, ports_from_file } => view! {
                    Setup(
                        config_path=config_path,
                        problem=problem.unwrap_or_default(),
                        dev_stack_example=dev_stack_example,
                        loopback_ports=loopback_ports,
                        callback_urls=callback_urls,
                        ports_from_file=ports_from_file,
                    )
                },
                Screen::Waiting { sign_in_url, signup, refused } => view! {
                    Waiting(sign_in_url=sign_in_url, signup=signup, refused=refused.unwrap_or_default())
                },
                Screen::WaitingForDevice { verification_uri, user_code } => view! {
                    WaitingForDevice(verification_uri=verification_uri, user_code=user_code)
                },
                Screen::SignedOut { message, provider_session, ended } => view! {
                    (match ended.clone() {
                        Some(why) => view! {
                            div(id="session-ended", class="notice info", role="status") {
                                strong { "Please sign in again" }
                                (why)
                            }
                        },
                        None => view! {},
                    })
                    (match message.clone() {
                        Some(text) => view! { div(id="signed-out-message", class="notice error", role="alert") { (text) } },
                        None => view! {},
                    })
                    ProviderSessionNotice(provider_session=provider_session)
                    (page(state.page.get()))
                },
                Screen::SignedIn { .. } => page(state.page.get()),
                Screen::Offline { name, reason, details } => view! {
                    Offline(name=name.unwrap_or_default(), reason=reason, details=details)
                    (offline_page(state.page.get()))
                },
            })
        }
        UpdateFooter()
    }
}

/// The session view without the signed-in profile.
#[derive(Clone, PartialEq)]
enum Screen {
    Loading,
    NotConfigured {
        config_path: String,
        problem: Option<String>,
        dev_stack_example: String,
        loopback_ports: Vec<u16>,
        callback_urls: Vec<String>,
        ports_from_file: bool,
    },
    Waiting {
        sign_in_url: String,
        signup: bool,
        refused: Option<String>,
    },
    WaitingForDevice {
        verification_uri: String,
        user_code: String,
    },
    SignedOut {
        message: Option<String>,
        provider_session: ProviderSession,
        ended: Option<String>,
    },
    /// Keyed by the person: another account's pages are built afresh (their own todos).
    SignedIn {
        sub: String,
    },
    Offline {
        name: Option<String>,
        reason: String,
        details: String,
    },
}

impl Screen {
    fn of(view: &SessionView) -> Self {
        match view.clone() {
            SessionView::Loading => Self::Loading,
            SessionView::NotConfigured {
                config_path,
                problem,
                dev_stack_example,
                loopback_ports,
                callback_urls,
                ports_from_file,
            } => Self::NotConfigured {
                config_path,
                problem,
                dev_stack_example,
                loopback_ports,
                callback_urls,
                ports_from_file,
            },
            SessionView::WaitingForBrowser {
                sign_in_url,
                signup,
                refused,
            } => Self::Waiting {
                sign_in_url,
                signup,
                refused,
            },
            SessionView::WaitingForDevice {
                verification_uri,
                user_code,
                ..
            } => Self::WaitingForDevice {
                verification_uri,
                user_code,
            },
            SessionView::SignedOut {
                message,
                provider_session,
                ended,
            } => Self::SignedOut {
                message,
                provider_session,
                ended,
            },
            SessionView::SignedIn { profile } => Self::SignedIn { sub: profile.sub },
            SessionView::Offline {
                profile,
                reason,
                details,
            } => Self::Offline {
                name: profile.map(|p| p.name),
                reason,
                details,
            },
        }
    }
}

fn page(page: Page) -> View {
    match page {
        Page::Home => view! { HomePage() },
        Page::Profile => view! { ProfilePage() },
        Page::Todos => view! { TodosPage() },
        Page::ExternalApi => view! { ExternalApiPage() },
        Page::Users => view! { UsersPage() },
    }
}

/// A page while offline: the ones that need the provider say so calmly instead.
fn offline_page(page: Page) -> View {
    if page.needs_sign_in() {
        view! { OfflinePage(title=page.title()) }
    } else {
        self::page(page)
    }
}

/// A panic leaves the window's code unusable; say so in the window (and keep the message for
/// the end-to-end tests) instead of leaving buttons that silently do nothing.
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        let stack = js_sys::Reflect::get(&js_sys::Error::new(""), &"stack".into())
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        let message = format!("Latchkey's window hit a bug and must be restarted: {info}\n{stack}");
        web_sys::console::error_1(&message.as_str().into());
        let Some(window) = web_sys::window() else {
            return;
        };
        // The first panic is the one that matters: later ones are its consequences.
        let first =
            !js_sys::Reflect::get(&window, &"__latchkeyPanic".into()).is_ok_and(|v| v.is_string());
        if first {
            let _ =
                js_sys::Reflect::set(&window, &"__latchkeyPanic".into(), &message.as_str().into());
        }
        if let Some(body) = window.document().and_then(|d| d.body()) {
            let _ = body.insert_adjacent_html(
                "afterbegin",
                "<div id=\"fatal\" class=\"notice error\">Latchkey's window hit a bug. \
                 Close and reopen Latchkey; your session is kept.</div>",
            );
        }
    }));
}

fn main() {
    report_panics();
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    sycamore::render(App);
}
