//! Updates: a quiet banner when a newer version exists ("Install and restart"), the
//! download's progress with "Cancel", and at the foot of the window the version running with
//! "Check for updates". Nothing is installed without the person's click; the shell checks,
//! verifies and installs.

use latchkey_ipc::{UPDATE_CHANGED, UpdateStatus, UpdateView, guest};
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;

use crate::tauri::invoke;

/// The update state, kept current from the shell's events.
fn use_update_status() -> Signal<Option<UpdateStatus>> {
    let status = create_signal(None::<UpdateStatus>);
    spawn_local_scoped(async move {
        guest::on_event(UPDATE_CHANGED, move |s: UpdateStatus| status.set(Some(s))).await;
        if let Ok(now) = invoke::<UpdateStatus>("update_status", ()).await {
            status.set(Some(now));
        }
    });
    status
}

fn act(command: &'static str) {
    sycamore::futures::spawn_local(async move {
        let _ = invoke::<()>(command, ()).await;
    });
}

/// The banner over the page: nothing unless there is something to say.
#[component]
pub fn UpdateBanner() -> View {
    let status = use_context::<Signal<Option<UpdateStatus>>>();
    view! {
        (match status.get_clone().map(|s| s.view) {
            Some(UpdateView::Available { version, notes }) => view! {
                div(id="update", class="notice info update", role="status") {
                    strong(id="update-version") { "Latchkey " (version) " is available" }
                    (match notes.clone() {
                        Some(notes) => view! { p(id="update-notes", class="notes") { (notes) } },
                        None => view! {},
                    })
                    button(id="update-install", class="primary", on:click=|_| act("install_update")) {
                        "Install and restart"
                    }
                }
            },
            Some(UpdateView::Downloading { version, received, total }) => {
                let (value, max) = match total {
                    Some(total) => (received.to_string(), total.to_string()),
                    None => (String::new(), String::new()),
                };
                let label = match total {
                    Some(total) => format!("{} of {} MiB", mib(received), mib(total)),
                    None => format!("{} MiB", mib(received)),
                };
                view! {
                    div(id="update", class="notice info update", role="status") {
                        strong { "Downloading Latchkey " (version) "…" }
                        progress(id="update-progress", value=value, max=max) {}
                        span(class="muted") { (label) }
                        button(id="update-cancel", class="secondary", on:click=|_| act("cancel_update")) { "Cancel" }
                    }
                }
            }
            Some(UpdateView::Installing { version }) => view! {
                div(id="update", class="notice info update", role="status") {
                    strong { "Installing Latchkey " (version) "…" }
                    p { "Your system may ask for your password. Latchkey restarts when it is done." }
                }
            },
            Some(UpdateView::Failed { version, message }) => view! {
                div(id="update", class="notice error update", role="alert") {
                    strong { "Latchkey " (version) " was not installed" }
                    p(id="update-message") { (message) }
                    button(id="update-dismiss", class="secondary", on:click=|_| act("dismiss_update")) { "Dismiss" }
                }
            },
            Some(UpdateView::CannotUpdate { version, message }) => view! {
                div(id="update", class="notice info update", role="status") {
                    strong { "Latchkey " (version) " is available" }
                    p(id="update-message") { (message) }
                    button(id="update-dismiss", class="secondary", on:click=|_| act("dismiss_update")) { "Dismiss" }
                }
            },
            _ => view! {},
        })
    }
}

/// The foot of the window: the version running, and a check the person can ask for.
#[component]
pub fn UpdateFooter() -> View {
    let status = use_context::<Signal<Option<UpdateStatus>>>();
    let note = move || match status.get_clone().map(|s| s.view) {
        Some(UpdateView::Checking) => "Checking for updates…".to_owned(),
        Some(UpdateView::UpToDate) => "Latchkey is up to date.".to_owned(),
        Some(UpdateView::CheckFailed { message }) => message,
        Some(UpdateView::Off { reason }) => reason,
        _ => String::new(),
    };
    view! {
        footer(class="foot") {
            span(id="app-version") {
                (status.get_clone().map(|s| format!("Latchkey {}", s.current)).unwrap_or_default())
            }
            button(id="check-updates", class="link", on:click=|_| act("check_for_update")) { "Check for updates" }
            span(id="update-note", class="muted", role="status") { (note()) }
        }
    }
}

/// Provides the update state to the banner and the footer.
pub fn provide_update_status() {
    provide_context(use_update_status());
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1024.0 / 1024.0)
}
