//! `scripted-browser URL`: the system browser, as automated tests see it.
//!
//! Installed as `xdg-open` first on `PATH` by `cargo xtask test`, it is what Latchkey's
//! production launcher starts. It follows the sign-in URL and fills the provider's forms as a
//! person would: the username from the URL's `login_hint` (or `SCRIPTED_BROWSER_USER`), the
//! password from `SCRIPTED_BROWSER_PASSWORD` (default `todo`), then submits; consent and
//! other one-button forms are submitted as they are. It keeps cookies and follows redirects,
//! the loopback callback included. A redirect to a private-use URI scheme (the deep-link
//! redirect) is handed on as a browser hands it to the OS: the program named by
//! `SCRIPTED_BROWSER_SCHEME_HANDLER` (the app, as its `.desktop` file would say) is started
//! with the URL, and so is a URL of such a scheme given as the argument.
//! What it did goes to `SCRIPTED_BROWSER_LOG` if set.
//! `SCRIPTED_BROWSER_GATE` names a file it waits for before it acts (at most two minutes): the
//! test creates it when it has seen what the window shows while the person is in the browser.

use std::io::Write;

use anyhow::{Context, bail};
use scraper::{Html, Selector};
use url::Url;

const MAX_FORMS: usize = 6;

struct Form {
    action: Url,
    fields: Vec<(String, String)>,
}

fn log(line: &str) {
    if let Some(path) = std::env::var_os("SCRIPTED_BROWSER_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
    eprintln!("scripted-browser: {line}");
}

/// The first form on the page, filled in: hidden fields kept, username and password set,
/// and the first submit button that is not a cancel button.
fn fill(page: &Html, page_url: &Url, user: &str, password: &str) -> anyhow::Result<Option<Form>> {
    let form_sel = Selector::parse("form").expect("selector");
    let input_sel = Selector::parse("input, button").expect("selector");
    let Some(form) = page.select(&form_sel).next() else {
        return Ok(None);
    };
    let action = form.value().attr("action").unwrap_or("");
    let action = page_url.join(action).context("form action")?;
    let mut fields = Vec::new();
    let mut submitted = false;
    for input in form.select(&input_sel) {
        let el = input.value();
        let Some(name) = el.attr("name") else {
            continue;
        };
        let kind = el.attr("type").unwrap_or(if el.name() == "button" {
            "submit"
        } else {
            "text"
        });
        let value = el.attr("value").unwrap_or("").to_owned();
        match kind {
            "submit" => {
                if !submitted && !value.contains("cancel") && !value.contains("abort") {
                    fields.push((name.to_owned(), value));
                    submitted = true;
                }
            }
            "password" => fields.push((name.to_owned(), password.to_owned())),
            "checkbox" | "radio" => {}
            _ if matches!(name, "username" | "login" | "email") && value.is_empty() => {
                fields.push((name.to_owned(), user.to_owned()))
            }
            _ => fields.push((name.to_owned(), value)),
        }
    }
    Ok(Some(Form { action, fields }))
}

fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Starts the scheme's handler with `url`, as `xdg-open` does for `x-scheme-handler/…`.
fn hand_to_os(url: &Url) -> anyhow::Result<()> {
    let handler = std::env::var_os("SCRIPTED_BROWSER_SCHEME_HANDLER")
        .with_context(|| format!("no handler for {}: links", url.scheme()))?;
    log(&format!(
        "handing a {}: link to {}",
        url.scheme(),
        handler.to_string_lossy()
    ));
    let status = std::process::Command::new(&handler)
        .arg(url.as_str())
        .status()
        .with_context(|| format!("starting {}", handler.to_string_lossy()))?;
    log(&format!("the handler ended: {status}"));
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Some(start) = std::env::args().nth(1) else {
        bail!("usage: scripted-browser URL");
    };
    let start = Url::parse(&start).context("the URL to open")?;
    if !is_web(&start) {
        return hand_to_os(&start);
    }
    if let Some(gate) = std::env::var_os("SCRIPTED_BROWSER_GATE") {
        let gate = std::path::PathBuf::from(gate);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !gate.exists() {
            if std::time::Instant::now() > deadline {
                bail!("the test never opened the gate {}", gate.display());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let hint = start
        .query_pairs()
        .find(|(k, _)| k == "login_hint")
        .map(|(_, v)| v.into_owned());
    let user = hint
        .or_else(|| std::env::var("SCRIPTED_BROWSER_USER").ok())
        .unwrap_or_else(|| "jemma".to_owned());
    let password = std::env::var("SCRIPTED_BROWSER_PASSWORD").unwrap_or_else(|_| "todo".to_owned());
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() > 10 {
                attempt.error("too many redirects")
            } else if is_web(attempt.url()) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .user_agent("scripted-browser (Latchkey tests)")
        .build()?;
    log(&format!(
        "opening {} for {user}",
        start.origin().ascii_serialization()
    ));
    let mut response = http.get(start).send().await?;
    for _ in 0..MAX_FORMS {
        let url = response.url().clone();
        let status = response.status();
        if let Some(link) = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Url::parse(l).ok())
            .filter(|l| status.is_redirection() && !is_web(l))
        {
            return hand_to_os(&link);
        }
        let html = Html::parse_document(&response.text().await?);
        let Some(form) = fill(&html, &url, &user, &password)? else {
            let title = Selector::parse("title").expect("selector");
            let title = html
                .select(&title)
                .next()
                .map(|t| t.text().collect::<String>())
                .unwrap_or_default();
            log(&format!(
                "done at {}{} ({status}): {title}",
                url.origin().ascii_serialization(),
                url.path()
            ));
            return Ok(());
        };
        log(&format!("submitting form to {}", form.action.path()));
        response = http.post(form.action).form(&form.fields).send().await?;
    }
    bail!("still seeing forms after {MAX_FORMS} submissions")
}
