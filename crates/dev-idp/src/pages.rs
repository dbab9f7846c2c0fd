//! The provider's HTML: self-contained pages, no scripts, no third-party resources.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for an HTML element or a double-quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:flex;\
justify-content:center;padding:4rem 1rem;margin:0}main{background:#fff;border-radius:12px;padding:2rem;\
width:100%;max-width:22rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.3rem;margin:0 0 .3rem}\
p.note{font-size:.8rem;color:#8a5a00;background:#fff6e0;padding:.5rem;border-radius:6px}\
label{display:block;margin:.8rem 0 .2rem;font-size:.9rem}input{width:100%;box-sizing:border-box;padding:.55rem;\
border:1px solid #c5cad3;border-radius:6px;font-size:1rem}button{margin-top:1.2rem;width:100%;padding:.6rem;\
border:0;border-radius:6px;background:#3b5bdb;color:#fff;font-size:1rem;cursor:pointer}\
button.secondary{background:#e9ecf2;color:#1d2330}p.error{color:#b00020}\
@media (prefers-color-scheme:dark){body{background:#14171c;color:#e6e9ef}main{background:#1e232b}\
input{background:#14171c;color:#e6e9ef;border-color:#3a414d}button.secondary{background:#2a303a;color:#e6e9ef}}";

/// Wraps a body in the provider's page frame, with headers that keep it self-contained.
pub(crate) fn page(status: axum::http::StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title} · Latchkey dev IdP</title>\
<style>{STYLE}</style></head><body><main>{body}<p class=\"note\">Latchkey dev IdP: for local development \
and tests only. Not for production.</p></main></body></html>",
        title = escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:* http://[::1]:*"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

pub(crate) fn error_page(status: axum::http::StatusCode, message: &str) -> Response {
    page(
        status,
        "Sign-in error",
        &format!(
            "<h1>This sign-in request cannot continue</h1><p class=\"error\">{}</p>",
            escape(message)
        ),
    )
}

pub(crate) fn login_form(
    tx: &str,
    client_name: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        axum::http::StatusCode::OK,
        "Log in",
        &format!(
            "<h1>Log in</h1><p>to continue to {client}</p>{error}\
<form method=\"post\" action=\"login\"><input type=\"hidden\" name=\"tx\" value=\"{tx}\">\
<label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" value=\"{username}\" required>\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\" name=\"action\" value=\"login\">Continue</button></form>\
<form method=\"post\" action=\"login\"><input type=\"hidden\" name=\"tx\" value=\"{tx}\">\
<button class=\"secondary\" type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>\
<p>Demo users: jemma, paul, sebastian (admin); password <code>todo</code>.</p>",
            client = escape(client_name),
            tx = escape(tx),
            username = escape(username),
        ),
    )
}

pub(crate) fn signup_form(tx: &str, username: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        axum::http::StatusCode::OK,
        "Sign up",
        &format!(
            "<h1>Create your account</h1>{error}\
<form method=\"post\" action=\"signup\"><input type=\"hidden\" name=\"tx\" value=\"{tx}\">\
<label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" value=\"{username}\" required>\
<label for=\"name\">Full name</label><input id=\"name\" name=\"name\" autocomplete=\"name\">\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
<button type=\"submit\" name=\"action\" value=\"signup\">Sign up</button></form>\
<form method=\"post\" action=\"login\"><input type=\"hidden\" name=\"tx\" value=\"{tx}\">\
<button class=\"secondary\" type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>",
            tx = escape(tx),
            username = escape(username),
        ),
    )
}

pub(crate) fn avatar_svg(initials: &str, hue: u32) -> Response {
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"128\" height=\"128\" viewBox=\"0 0 128 128\">\
<rect width=\"128\" height=\"128\" rx=\"64\" fill=\"hsl({hue},55%,45%)\"/>\
<text x=\"64\" y=\"64\" dy=\".35em\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"52\" fill=\"#fff\">{}</text></svg>",
        escape(initials)
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        svg,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_neutralises_markup_in_user_input() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
