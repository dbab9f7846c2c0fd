use latchkey_ipc::{ApiRequest, ApiResult, Endpoint, guest};
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;

#[component]
pub fn ExternalApiPage() -> View {
    let result = create_signal(None::<Result<ApiResult, String>>);
    let busy = create_signal(false);
    // The buttons stay enabled while a call runs (a disabled button would drop the keyboard
    // focus); a second press meanwhile is ignored and announced as busy.
    let call = move |endpoint: Endpoint| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local_scoped(async move {
            let answer = guest::call_api(&ApiRequest::get(endpoint.path())).await;
            result.set(Some(answer));
            busy.set(false);
        });
    };
    view! {
        section(class="card") {
            h2 { "External API" }
            p(class="muted") {
                "Latchkey calls the API from native code with your access token; the window only sees the answer."
            }
            div(class="actions") {
                button(id="api-public", class="secondary", aria-busy=move || busy.get().to_string(), on:click=move |_| call(Endpoint::Public)) { "Get public message" }
                button(id="api-protected", class="primary", aria-busy=move || busy.get().to_string(), on:click=move |_| call(Endpoint::Protected)) { "Get protected message" }
                button(id="api-admin", class="secondary", aria-busy=move || busy.get().to_string(), on:click=move |_| call(Endpoint::Admin)) { "Get admin message" }
            }
        }
        (match result.get_clone() {
            None => view! {},
            Some(Ok(answer)) => {
                let explanation = answer.explanation.clone();
                view! {
                    section(class="card") {
                        (match explanation.clone() {
                            Some(text) => view! { div(id="api-explanation", class="notice error") { (text) } },
                            None => view! { div(class="notice ok") { "The API answered." } },
                        })
                        p(class="muted") { "HTTP " (answer.status) }
                        pre(id="api-result", class="code") { (answer.body.clone()) }
                    }
                }
            }
            Some(Err(message)) => view! {
                section(class="card") { div(id="api-explanation", class="notice error") { (message) } }
            },
        })
    }
}
