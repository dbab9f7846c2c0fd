//! App state: a small `Copy` struct of signals, handed down with `provide_context`.

use latchkey_ipc::guest;
use latchkey_ipc::{Access, AccountView, Page, SessionView, StartupMark};
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;

use crate::tauri::invoke;

#[derive(Clone, Copy)]
pub struct AppState {
    pub session: Signal<SessionView>,
    pub page: Signal<Page>,
    /// A guarded page the person asked for while signed out; shown after sign-in.
    pub after_login: Signal<Option<Page>>,
    /// A command error to show.
    pub error: Signal<Option<String>>,
    /// What the signed-in person may do, as the sample API says (`None`: not known yet;
    /// `Err`: the API could not say, and the person is treated as holding no permission).
    pub access: Signal<Option<Result<Access, String>>>,
    /// The accounts kept, for the account menu; read again with each signed-in view.
    pub accounts: Signal<Vec<AccountView>>,
}

impl AppState {
    pub fn new() -> Self {
        Self {
            session: create_signal(SessionView::Loading),
            page: create_signal(Page::Home),
            after_login: create_signal(None),
            error: create_signal(None),
            access: create_signal(None),
            accounts: create_signal(Vec::new()),
        }
    }

    /// Whether the Users page is for this person.
    pub fn may_list_users(&self) -> bool {
        self.access
            .with(|a| matches!(a, Some(Ok(access)) if access.may_list_users()))
    }

    pub fn signed_in(&self) -> bool {
        self.session
            .with(|s| matches!(s, SessionView::SignedIn { .. }))
    }

    /// A session is stored but the provider cannot be reached (the shell reconnects).
    pub fn offline(&self) -> bool {
        self.session
            .with(|s| matches!(s, SessionView::Offline { .. }))
    }

    /// Takes a view pushed by the shell.
    pub fn apply(&self, view: SessionView) {
        let sub = |view: &SessionView| match view {
            SessionView::SignedIn { profile } => Some(profile.sub.clone()),
            _ => None,
        };
        let before = self.session.with(sub);
        if sub(&view).is_some() && sub(&view) != before {
            if before.is_none() {
                mark(StartupMark::SignedIn);
            }
            // Another account may hold other permissions.
            self.access.set(None);
            let access = self.access;
            sycamore::futures::spawn_local(async move {
                access.set(Some(invoke::<Access>("access", ()).await));
            });
        }
        if matches!(view, SessionView::SignedIn { .. }) {
            self.load_accounts();
        } else {
            self.access.set(None);
        }
        match (&view, self.after_login.get()) {
            (SessionView::SignedIn { .. }, Some(page)) => {
                self.page.set(page);
                self.after_login.set(None);
            }
            (SessionView::SignedOut { .. }, _) => {
                self.after_login.set(None);
                if self.page.get().needs_sign_in() {
                    self.page.set(Page::Home);
                }
            }
            _ => {}
        }
        self.session.set(view);
    }

    /// Reads the accounts kept again, for the account menu.
    pub fn load_accounts(&self) {
        let (accounts, error) = (self.accounts, self.error);
        sycamore::futures::spawn_local(async move {
            match guest::accounts().await {
                Ok(list) => accounts.set(list),
                Err(message) => error.set(Some(message)),
            }
        });
    }

    /// Navigates; a guarded page while signed out starts the sign-in and comes back after
    /// (offline, the page says calmly that it waits for the provider).
    pub fn go(&self, page: Page) {
        self.error.set(None);
        if page.needs_sign_in() && !self.signed_in() && !self.offline() {
            self.after_login.set(Some(page));
            self.run(guest::login);
        } else {
            self.page.set(page);
        }
    }

    /// Runs one of the plugin's commands that answer through session views; shows its error
    /// if it fails.
    pub fn run<F>(&self, command: fn() -> F)
    where
        F: std::future::Future<Output = Result<(), String>> + 'static,
    {
        let state = *self;
        state.error.set(None);
        spawn_local_scoped(async move {
            if let Err(message) = command().await {
                state.error.set(Some(message));
            }
        });
    }
}

/// Tells the shell that a moment of start-up was rendered (it keeps the first of each).
pub fn mark(name: StartupMark) {
    sycamore::futures::spawn_local(async move {
        let _ = invoke::<()>("mark", MarkArgs { name }).await;
    });
}

#[derive(serde::Serialize)]
struct MarkArgs {
    name: StartupMark,
}
