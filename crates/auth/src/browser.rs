//! Opening the system browser.

use url::Url;

/// Opens the sign-in URL for the person. The desktop shell may supply its own.
pub trait BrowserLauncher: Send + Sync {
    /// Hands `url` to a browser. `Ok` means the launcher started, not that a page appeared:
    /// the flow always exposes the URL as well, for the person to open or copy.
    fn open(&self, url: &Url) -> std::io::Result<()>;
}

/// The platform's standard launcher (`xdg-open` and friends on Linux, `open` on macOS,
/// `ShellExecute` on Windows), through the `open` crate as tauri-plugin-opener uses it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemBrowser;

impl BrowserLauncher for SystemBrowser {
    fn open(&self, url: &Url) -> std::io::Result<()> {
        open::that_detached(url.as_str())
    }
}

/// Opens nothing: for front ends that only show the URL (a CLI over SSH, `--no-browser`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBrowser;

impl BrowserLauncher for NoBrowser {
    fn open(&self, _url: &Url) -> std::io::Result<()> {
        Ok(())
    }
}

/// The browser a person named in `BROWSER` (the convention of Python's `webbrowser`, `git
/// web--browse` and xdg-open's generic mode): a list of commands separated by `:` (`;` on
/// Windows), the first one used; `%s` in it is replaced by the URL, else the URL is appended.
/// The program shares the terminal, so a terminal browser (w3m, lynx) on a server works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserCommand {
    program: String,
    args: Vec<String>,
}

/// The environment variable naming the person's browser.
pub const BROWSER_ENV: &str = "BROWSER";

impl BrowserCommand {
    /// The browser `BROWSER` names, if it names one.
    pub fn from_env() -> Option<Self> {
        Self::parse(&std::env::var(BROWSER_ENV).ok()?)
    }

    /// Reads a `BROWSER` value; `None` when it names no command.
    pub fn parse(value: &str) -> Option<Self> {
        let separator = if cfg!(windows) { ';' } else { ':' };
        let first = value.split(separator).find(|c| !c.trim().is_empty())?;
        let mut words = first.split_whitespace().map(str::to_owned);
        let program = words.next()?;
        Some(Self {
            program,
            args: words.collect(),
        })
    }

    /// The program that is run.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The arguments for `url`.
    fn args_for(&self, url: &Url) -> Vec<String> {
        if self.args.iter().any(|a| a.contains("%s")) {
            self.args
                .iter()
                .map(|a| a.replace("%s", url.as_str()))
                .collect()
        } else {
            let mut args = self.args.clone();
            args.push(url.to_string());
            args
        }
    }
}

impl BrowserLauncher for BrowserCommand {
    fn open(&self, url: &Url) -> std::io::Result<()> {
        std::process::Command::new(&self.program)
            .args(self.args_for(url))
            .spawn()
            .map(drop)
    }
}

// `BROWSER` separates its commands with `;` on Windows.
#[cfg(all(test, not(windows)))]
mod tests {
    use super::*;

    #[test]
    fn browser_takes_the_first_command_and_puts_the_url_where_it_says() {
        let url = Url::parse("https://id.example/authorize?x=1").unwrap();
        let plain = BrowserCommand::parse("w3m:lynx").unwrap();
        assert_eq!(plain.program(), "w3m");
        assert_eq!(plain.args_for(&url), vec![url.to_string()]);
        let placed = BrowserCommand::parse(" :open-in --new %s --quiet").unwrap();
        assert_eq!(placed.program(), "open-in");
        assert_eq!(
            placed.args_for(&url),
            vec!["--new".to_owned(), url.to_string(), "--quiet".to_owned()]
        );
        assert_eq!(BrowserCommand::parse(""), None);
        assert_eq!(BrowserCommand::parse(" : "), None);
    }
}
