use latchkey_ipc::SessionView;
use sycamore::prelude::*;

use crate::state::AppState;

#[component]
pub fn ProfilePage() -> View {
    let state = use_context::<AppState>();
    view! {
        (match state.session.get_clone() {
            SessionView::SignedIn { profile } => {
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
                    section(class="card") {
                        h3 { "ID token claims" }
                        pre(id="profile-claims", class="code") { (profile.claims_json.clone()) }
                    }
                }
            }
            _ => view! { p(class="muted") { "Sign in to see your profile." } },
        })
    }
}
