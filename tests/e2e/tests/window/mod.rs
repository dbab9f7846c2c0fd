//! The window harness the end-to-end tests share: an app under tauri-driver, driven
//! through WebDriver, with waits that fail by naming what never happened.

#![allow(dead_code)] // each test binary uses its own part of it

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// One app window at a time: they share the display and the driver's ports.
pub static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Finds visible texts under WCAG AA contrast: each element with text of its own, its colour
/// against the first opaque background behind it (the page's when none).
const LOW_CONTRAST_JS: &str = r#"
const parse = c => { const m = /rgba?\(([^)]+)\)/.exec(c); if (!m) return null;
  const [r, g, b, a = 1] = m[1].split(',').map(Number); return { r, g, b, a }; };
const behind = el => { for (let e = el; e; e = e.parentElement) {
  const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; }
  return parse(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 }; };
const lum = ({ r, g, b }) => { const f = v => { v /= 255;
  return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const low = [];
for (const el of document.querySelectorAll('body *')) {
  if (!el.getClientRects().length) continue;
  if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  if (el.closest('[disabled]') || el.closest('[aria-hidden=true]')) continue;
  const s = getComputedStyle(el);
  if (s.visibility === 'hidden' || Number(s.opacity) === 0) continue;
  const fg = parse(s.color), bg = behind(el);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
  const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < needed) low.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} "${el.textContent.trim().slice(0, 40)}": ${s.color} on rgb(${bg.r}, ${bg.g}, ${bg.b}) is ${ratio.toFixed(2)}:1, needs ${needed}:1`);
}
return low;
"#;

/// WebDriver's key codes.
pub const TAB: &str = "\u{e004}";
pub const ENTER: &str = "\u{e007}";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The app under tauri-driver; dropping it ends both.
pub struct App {
    pub client: Client,
    _driver: tokio::process::Child,
}

/// The scripted browser must be the system browser, or a sign-in would open a real one.
pub fn require_scripted_browser() {
    assert!(
        std::env::var_os("LATCHKEY_SCRIPTED_BROWSER").is_some(),
        "run with `cargo xtask test`: the scripted browser plays the person's browser"
    );
}

/// Starts the app built at `app` with the environment `setup` gives it (through tauri-driver).
pub async fn launch_app(app: &str, setup: impl FnOnce(&mut tokio::process::Command)) -> App {
    // Name rustls's provider for WebDriver's client (ring, as reqwest's).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (port, native_port) = (free_port(), free_port());
    let mut driver = tokio::process::Command::new("tauri-driver");
    driver.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native_port.to_string(),
    ]);
    setup(&mut driver);
    let driver = driver
        .kill_on_drop(true)
        .spawn()
        .expect("tauri-driver runs (cargo xtask test installs it)");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("tauri:options".into(), json!({ "application": app }));
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        // A driver that takes the connection but never answers must not hang the suite.
        let attempt = tokio::time::timeout(
            Duration::from_secs(30),
            ClientBuilder::rustls()
                .unwrap()
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        match attempt {
            Ok(Ok(client)) => break client,
            Ok(Err(err)) if Instant::now() > deadline => panic!("no WebDriver session: {err}"),
            Err(_) => panic!("tauri-driver took the connection but opened no session in 30 s"),
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    App {
        client,
        _driver: driver,
    }
}

/// A WebDriver call that gets no answer in 30 s fails the test and names the call, instead
/// of hanging the suite until CI's limit. Seen: without WebKitGTK's compositing (as Latchkey
/// runs), WebKitWebDriver's screenshot of a still page never returns; see `screenshot`.
pub async fn answered<T>(what: &str, call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .unwrap_or_else(|_| panic!("WebDriver did not answer {what} in 30 s"))
}

impl App {
    /// Asks `probe` every 100 ms for up to 30 s until it answers `Ok`. On timeout it keeps a
    /// screenshot and fails, saying what `css` was expected to do and what was last seen.
    pub async fn wait_until<T>(
        &self,
        css: &str,
        expected: &str,
        probe: impl AsyncFn() -> Result<T, String>,
    ) -> T {
        self.wait_until_within(css, expected, Duration::from_secs(30), probe)
            .await
    }

    /// [`App::wait_until`] for an event the app schedules itself, up to `limit`.
    pub async fn wait_until_within<T>(
        &self,
        css: &str,
        expected: &str,
        limit: Duration,
        probe: impl AsyncFn() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            match probe().await {
                Ok(found) => return found,
                Err(seen) => last = seen,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.failure_screenshot(css).await;
        panic!("{css} never {expected} (last seen: {last:?})");
    }

    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.wait_until(css, "appeared", async || {
            self.client
                .find(Locator::Css(css))
                .await
                .map_err(|_| "absent".to_owned())
        })
        .await
    }

    /// Waits until `css` exists and its text contains `wanted`; returns the text.
    pub async fn text(&self, css: &str, wanted: &str) -> String {
        self.text_within(css, wanted, Duration::from_secs(30)).await
    }

    /// [`App::text`], waiting up to `limit`.
    pub async fn text_within(&self, css: &str, wanted: &str, limit: Duration) -> String {
        self.wait_until_within(css, &format!("showed {wanted:?}"), limit, async || {
            let el = self
                .client
                .find(Locator::Css(css))
                .await
                .map_err(|_| "absent".to_owned())?;
            let text = el.text().await.unwrap_or_default();
            if text.contains(wanted) {
                Ok(text)
            } else {
                Err(text)
            }
        })
        .await
    }

    /// The sign-in URL the waiting view offers to copy.
    pub async fn sign_in_url(&self) -> String {
        let input = self.element("#sign-in-url").await;
        input.prop("value").await.unwrap().unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        answered(&format!("a click on {css}"), element.click())
            .await
            .unwrap();
    }

    /// Replaces the text of the input `css` with `text`, as typing would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Waits until the input `css` holds `wanted`.
    pub async fn value(&self, css: &str, wanted: &str) {
        self.wait_until(css, &format!("held {wanted:?}"), async || {
            let el = self
                .client
                .find(Locator::Css(css))
                .await
                .map_err(|_| "absent".to_owned())?;
            let value = el.prop("value").await.ok().flatten().unwrap_or_default();
            if value == wanted { Ok(()) } else { Err(value) }
        })
        .await
    }

    /// Waits until no element matches `css`.
    pub async fn gone(&self, css: &str) {
        self.wait_until(css, "went away", async || {
            if self.exists(css).await {
                Err("still there".to_owned())
            } else {
                Ok(())
            }
        })
        .await
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = std::env::var_os("LATCHKEY_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("latchkey-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        // WebKitGTK paints Latchkey's window without compositing, and then WebKitWebDriver's
        // screenshot waits for a repaint that a still page never makes. A one-pixel, all but
        // transparent element turning (the app's own `spin` keyframes) keeps repaints coming
        // while the screenshot is taken; it is gone again before the next step.
        let _ = self
            .client
            .execute(
                "const d = document.createElement('div'); d.id = 'e2e-repaint'; \
                 d.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;\
                 opacity:.01;animation:spin 1s linear infinite'; \
                 document.body.appendChild(d);",
                vec![],
            )
            .await;
        let png = answered(
            &format!("the screenshot {name:?}"),
            self.client.screenshot(),
        )
        .await
        .unwrap();
        let _ = self
            .client
            .execute("document.getElementById('e2e-repaint')?.remove()", vec![])
            .await;
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// What the window showed when a wait failed, for whoever reads the failure.
    pub async fn failure_screenshot(&self, css: &str) {
        let name: String = css
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.screenshot(&format!("failed-{name}")).await;
        if let Ok(panic) = self
            .client
            .execute("return window.__latchkeyPanic || null", vec![])
            .await
            && !panic.is_null()
        {
            eprintln!("the window panicked: {panic}");
        }
        if let Ok(html) = self.client.source().await {
            eprintln!("page when {css} failed:\n{html}");
        }
    }

    /// Everything the web view received over IPC (answers, errors, events) and every command
    /// it invoked (`invoked plugin:latchkey|…`), one per line, as the observer the test build
    /// injects before the page's own code recorded it (`tests/ipc-observer`).
    pub async fn ipc_log(&self) -> String {
        let log = self
            .js("return window.__latchkeyIpcObserved ? window.__latchkeyIpcObserved() : null")
            .await;
        let entries = log.as_array().unwrap_or_else(|| {
            panic!(
                "the app has no IPC observer: build it with `--features custom-protocol,ipc-observer` \
                 (`cargo xtask test` does)"
            )
        });
        entries
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Fails when anything the web view received holds a token: a JWT (every access and ID
    /// token the dev IdP issues is one) or any of `refresh_tokens` (the dev IdP's
    /// `issued_refresh_tokens()`).
    pub async fn assert_no_token_reached_the_page(&self, refresh_tokens: &[String]) {
        let log = self.ipc_log().await;
        // The log itself is never printed: it is what is being checked for tokens.
        assert!(
            !log.contains("OBSERVER-NOT-ATTACHED"),
            "the IPC observer could not attach to Tauri's callbacks"
        );
        assert!(
            log.contains("invoked plugin:latchkey|session"),
            "the IPC observer saw no session call, so it saw nothing ({} lines)",
            log.lines().count()
        );
        if let Some(jwt) = jwt_in(&log) {
            panic!(
                "a JWT reached the web view (header {}…)",
                &jwt[..jwt.len().min(10)]
            );
        }
        for token in refresh_tokens {
            assert!(
                !log.contains(token.as_str()),
                "a refresh token the dev IdP issued reached the web view"
            );
        }
    }

    /// Runs `script` in the page and returns its value; a call WebDriver refuses or never
    /// answers fails the test, naming the script.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        let name: String = script.chars().take(60).collect();
        answered(
            &format!("the script {name:?}"),
            self.client.execute(script, vec![]),
        )
        .await
        .unwrap_or_else(|e| panic!("the script {name:?} failed: {e}"))
    }

    /// Every visible text whose contrast with what is painted behind it is under WCAG AA
    /// (4.5:1; 3:1 for large text), described with its colours.
    pub async fn low_contrast(&self) -> Vec<String> {
        let found = self.js(LOW_CONTRAST_JS).await;
        serde_json::from_value(found).expect("a list of findings")
    }

    /// The navigation items that look selected (a background of their own).
    pub async fn nav_items_that_look_selected(&self) -> Vec<String> {
        let found = self
            .js("return [...document.querySelectorAll('nav .links button')]\
                 .filter(b => { const c = getComputedStyle(b).backgroundColor; \
                   return !(c === 'transparent' || /^rgba\\(.*,\\s*0\\)$/.test(c)); })\
                 .map(b => b.id)")
            .await;
        serde_json::from_value(found).expect("a list of ids")
    }

    /// Puts the mouse pointer over `css`, as a person moving the mouse would.
    pub async fn hover(&self, css: &str) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let element = self.element(css).await;
        let actions = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        answered(
            &format!("moving the mouse over {css}"),
            self.client.perform_actions(actions),
        )
        .await
        .unwrap();
    }

    /// Presses `key` (a WebDriver key code, or text) in the element that has the focus.
    pub async fn press(&self, key: &str) {
        let focused = answered("the focused element", self.client.active_element())
            .await
            .unwrap();
        answered(&format!("the key {key:?}"), focused.send_keys(key))
            .await
            .unwrap();
    }

    /// The focused element: its id (or accessible name), and whether a focus ring shows;
    /// `None` when the focus is on the page itself (Tab went past the last control).
    pub async fn focused(&self) -> Option<(String, bool)> {
        let found = self
            .js("const e = document.activeElement; \
                 if (!e || e === document.body) return null; \
                 const s = getComputedStyle(e); \
                 return [e.id || e.getAttribute('aria-label') || e.textContent.trim(), \
                   s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2];")
            .await;
        serde_json::from_value(found).expect("an id and a flag, or null")
    }

    /// Ends the session, failing the test if the window's code panicked along the way or if
    /// anything the web view received holds a JWT or one of `refresh_tokens` (every window
    /// test passes the dev IdP's `issued_refresh_tokens()`).
    pub async fn quit(self, refresh_tokens: &[String]) {
        self.assert_no_token_reached_the_page(refresh_tokens).await;
        self.close().await;
    }

    /// Ends the session, failing the test if the window's code panicked along the way; for an
    /// app built without the IPC observer (the installed package).
    pub async fn close(self) {
        let panic = self.js("return window.__latchkeyPanic || null").await;
        // Cleanup, not a check: dropping the App ends tauri-driver and the app anyway. Seen
        // once in a full run: the session's close never answered, and the suite hung.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.close()).await;
        assert!(panic.is_null(), "the window panicked: {panic}");
    }
}

/// The first JWT-shaped string in `text`: a base64url JSON header (`eyJ`), a payload and a
/// signature, dot-separated.
pub fn jwt_in(text: &str) -> Option<&str> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut from = 0;
    while let Some(found) = text[from..].find("eyJ") {
        let start = from + found;
        let candidate: &str = text[start..]
            .split(|c: char| !(is_b64(c) || c == '.'))
            .next()
            .unwrap_or_default();
        let parts: Vec<&str> = candidate.split('.').collect();
        if parts.len() >= 3 && parts[..3].iter().all(|p| p.len() >= 4) {
            return Some(candidate);
        }
        from = start + 3;
    }
    None
}

#[test]
fn jwt_in_finds_a_token_inside_json_and_nothing_in_plain_text() {
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    assert_eq!(jwt_in(&format!(r#"{{"a":"{token}"}}"#)), Some(token));
    assert_eq!(jwt_in("eyJ alone, eyJabc.def and a.b.c"), None);
}
