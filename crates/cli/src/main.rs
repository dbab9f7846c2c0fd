//! `latchkey-cli`: Latchkey's sign-in engine on the command line, like `gh auth`.
//!
//! ```text
//! latchkey-cli login [--signup] [--no-browser | --device | --browser] [--user NAME]
//! latchkey-cli status        # exit 0 signed in, 1 not signed in, 3 offline (session kept)
//! latchkey-cli accounts      # the accounts kept, the active one marked
//! latchkey-cli switch EMAIL|NAME|SUB
//! latchkey-cli call [--account EMAIL|NAME|SUB] URL
//! latchkey-cli logout [--all | --account EMAIL|NAME|SUB]
//! latchkey-cli doctor        # what would stop a sign-in here; exit 1 if something would
//! ```
//! `login` adds an account when one is kept already (the provider's account chooser opens),
//! and makes it the active one; the window follows the switch, and the other way round.
//! It reads the same `auth_config.json` as the desktop app (`LATCHKEY_CONFIG`, or
//! `auth_config.json` in the OS config dir, or the local dev stack) and keeps the refresh
//! token in the same OS vault entry. No token is ever printed.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use latchkey_auth::{
    ApiClient, BrowserCommand, BrowserLauncher, Config, LoginOptions, NoBrowser, Profile, Restored,
    Session, SessionError, SystemBrowser,
};

#[derive(Parser)]
#[command(
    name = "latchkey-cli",
    version,
    about = "Sign in with your OpenID Provider and call your API"
)]
struct Cli {
    /// The configuration file (default: $LATCHKEY_CONFIG, then the OS config dir, then the dev stack).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in through the system browser; with an account kept already, this adds one.
    Login {
        /// Open the provider's sign-up screen.
        #[arg(long)]
        signup: bool,
        /// Do not open a browser; only print the sign-in URL, to open on this same machine
        /// (its answer comes back to this machine's loopback). Over SSH, use --device.
        #[arg(long)]
        no_browser: bool,
        /// Sign in with a code on any other device (RFC 8628), for SSH sessions, WSL,
        /// containers and servers. Chosen by itself over SSH without a display.
        #[arg(long, conflicts_with_all = ["no_browser", "browser"])]
        device: bool,
        /// Use the browser even where --device would be chosen by itself.
        #[arg(long)]
        browser: bool,
        /// Pre-fill this username at the provider.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Show who is signed in (restores the session from the vault).
    Status,
    /// List the accounts kept, the active one marked (never a token).
    Accounts,
    /// Make another account the active one, without the browser.
    Switch {
        /// The account: its email, its name, or its subject identifier.
        account: String,
    },
    /// Call an API URL; the access token is attached only under the configured apiUrl.
    Call {
        url: String,
        /// Call as this account (email, name or subject) once, without switching to it.
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// Sign out of the active account: revoke its refresh token and delete it from the vault.
    Logout {
        /// End the provider's browser session too (RP-Initiated Logout): the browser opens
        /// its end-session page with the ID token as a hint, and comes back here.
        #[arg(long)]
        provider: bool,
        /// Sign out of every account kept.
        #[arg(long, conflicts_with = "account")]
        all: bool,
        /// Sign out of this account (email, name or subject) instead of the active one.
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// Check what a sign-in needs on this machine: configuration, provider, clock, vault,
    /// loopback, stored session. Exits 1 when something would stop a sign-in.
    Doctor,
}

#[tokio::main]
async fn main() -> ExitCode {
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(latchkey_auth::log_filter())
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("latchkey-cli: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one line a check; a configuration that cannot be read is the first failure.
async fn doctor(flag: Option<&std::path::Path>) -> ExitCode {
    use latchkey_auth::doctor::{Verdict, config_origin, diagnose};
    let origin = config_origin(flag);
    let config = match flag {
        Some(path) => Config::load(path),
        None => Config::find().map(|(config, _)| config),
    };
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            println!("FAIL configuration {origin}: {err}");
            println!(
                "     → write or fix auth_config.json (the README shows one for each provider)"
            );
            return ExitCode::from(1);
        }
    };
    let checks = diagnose(&config, &origin).await;
    for check in &checks {
        println!("{check}");
    }
    if checks.iter().any(|c| c.verdict == Verdict::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// How long `logout --provider` waits for the provider to send the browser back.
const END_SESSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// `url` without its `id_token_hint`, to print: a terminal never shows a token.
fn without_id_token_hint(url: &url::Url) -> url::Url {
    let mut plain = url.clone();
    plain
        .query_pairs_mut()
        .clear()
        .extend_pairs(url.query_pairs().filter(|(k, _)| k != "id_token_hint"));
    plain
}

/// Why the device flow is used, or `None` for the browser.
fn device_rule(asked: bool, browser_asked: bool) -> Option<&'static str> {
    if asked {
        return Some("--device was given");
    }
    // A person who named a browser in BROWSER has one, even over SSH without a display.
    if browser_asked || BrowserCommand::from_env().is_some() {
        return None;
    }
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let ssh = set("SSH_CONNECTION") || set("SSH_TTY");
    let display =
        set("DISPLAY") || set("WAYLAND_DISPLAY") || cfg!(any(windows, target_os = "macos"));
    match (ssh, display) {
        (true, false) => Some(
            "this is an SSH session without a display, so no browser here can be opened (set BROWSER to a browser that works here, or give --browser)",
        ),
        (false, false) => Some(
            "there is no display (DISPLAY and WAYLAND_DISPLAY are unset), so no browser can be opened (set BROWSER to a browser that works here, or give --browser)",
        ),
        _ => None,
    }
}

/// The device authorization grant (RFC 8628): the URL and code to use on another device,
/// a countdown, Ctrl-C to cancel.
enum DeviceLogin {
    /// The provider offers no device grant.
    Unsupported(String),
    Failed(String),
}

async fn login_device(session: &Session, rule: &str) -> Result<ExitCode, DeviceLogin> {
    use std::io::IsTerminal;
    eprintln!("Signing in with a code: {rule}.");
    let (shown_tx, shown_rx) = tokio::sync::oneshot::channel::<std::time::Duration>();
    let sign_in = session.login_device(move |code| {
        eprintln!("\nOn any device, open:\n\n  {}\n", code.verification_uri);
        // Exactly as issued: some providers match it character for character (RFC 8628 §6.1).
        eprintln!("and enter the code:\n\n      {}\n", code.user_code);
        if let Some(complete) = &code.verification_uri_complete {
            eprintln!("(or open {complete}, which has the code in it)\n");
        }
        let _ = shown_tx.send(code.expires_in);
    });
    let countdown = async move {
        let Ok(lifetime) = shown_rx.await else {
            return std::future::pending().await;
        };
        let deadline = tokio::time::Instant::now() + lifetime;
        let tty = std::io::stderr().is_terminal();
        loop {
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs();
            if tty {
                eprint!(
                    "\rWaiting for approval; the code expires in {:02}:{:02} ",
                    left / 60,
                    left % 60
                );
            }
            if left == 0 {
                return std::future::pending().await;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    };
    let result = tokio::select! {
        result = sign_in => result,
        () = countdown => unreachable_countdown(),
        _ = tokio::signal::ctrl_c() => {
            eprintln!();
            return Err(DeviceLogin::Failed("the sign-in was cancelled".into()));
        }
    };
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let profile = result.map_err(|e| match e {
        latchkey_auth::LoginError::DeviceUnsupported => DeviceLogin::Unsupported(e.to_string()),
        other => DeviceLogin::Failed(other.to_string()),
    })?;
    println!("{}", signed_in_as(&profile));
    if let Some(problem) = session.vault_problem() {
        eprintln!("warning: {problem}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The countdown never ends on its own; this only satisfies the type.
fn unreachable_countdown() -> Result<Profile, latchkey_auth::LoginError> {
    Err(latchkey_auth::LoginError::Cancelled)
}

/// `status` exit code when a session is stored but the provider cannot be reached.
const EXIT_OFFLINE: u8 = 3;

/// Asks the provider again to revoke what an earlier sign-out could not (RFC 7009 §2.2.1).
async fn retry_revocations(session: &Session) {
    if session.pending_revocations() == 0 {
        return;
    }
    match session.retry_revocations().await {
        Ok(0) => eprintln!("note: the provider confirmed an earlier sign-out"),
        Ok(n) => eprintln!(
            "note: {n} earlier sign-out(s) still wait for the provider to confirm the revocation"
        ),
        Err(err) => eprintln!("note: an earlier sign-out is not confirmed yet: {err}"),
    }
}

/// What a sign-out left waiting at the provider, or could not write.
fn report_revocation(outcome: &latchkey_auth::LogoutOutcome) {
    if outcome.revocation_pending {
        eprintln!(
            "note: the provider has not confirmed revoking the session yet; Latchkey keeps \
             the token only to revoke it, and asks again each time it runs"
        );
    } else if !outcome.revoked {
        eprintln!("note: the provider did not confirm revoking the session");
    }
    if let Some(err) = &outcome.vault_error {
        eprintln!("warning: {err}");
    }
}

/// The entry of the account `selector` names; an ambiguous or unknown name is refused with
/// the candidates.
async fn find_account(session: &Session, selector: &str) -> Result<String, String> {
    let list = session.accounts().await.map_err(|e| e.to_string())?;
    if list.accounts.is_empty() {
        return Err("no account is kept; run `latchkey-cli login` first".into());
    }
    list.find(selector)
        .map(|a| a.entry.clone())
        .map_err(|e| e.to_string())
}

/// `accounts`: one line an account, `*` on the active one; exit 1 when none is kept.
async fn accounts(session: &Session) -> Result<ExitCode, String> {
    let list = session.accounts().await.map_err(|e| e.to_string())?;
    if list.accounts.is_empty() {
        println!("No account is kept. Run `latchkey-cli login`.");
        return Ok(ExitCode::from(1));
    }
    for account in &list.accounts {
        let mark = if list.active.as_deref() == Some(account.entry.as_str()) {
            '*'
        } else {
            ' '
        };
        let who = match (&account.name, &account.email) {
            (Some(name), Some(email)) => format!("{name} <{email}>"),
            _ => account.label().to_owned(),
        };
        let note = if account.sign_in_again {
            "  (sign in again: `latchkey-cli login`)"
        } else {
            ""
        };
        println!("{mark} {who}{note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// After a sign-in or `status`: how many other accounts are kept, and how to see them.
async fn note_other_accounts(session: &Session) {
    if let Ok(list) = session.accounts().await
        && list.accounts.len() > 1
    {
        eprintln!(
            "{} accounts are kept; `latchkey-cli accounts` lists them, `latchkey-cli switch` changes the active one.",
            list.accounts.len()
        );
    }
}

/// Why the person must sign in again, in one sentence with what to run.
fn session_ended(err: &SessionError) -> String {
    format!("Not signed in: {err}. Run `latchkey-cli login`.")
}

/// "Signed in as NAME <EMAIL>", or "Signed in (no name from the provider)".
fn signed_in_as(profile: &Profile) -> String {
    match profile.given_name() {
        Some(_) => format!("Signed in as {}", describe(profile)),
        None => format!("Signed in {}", Profile::NO_NAME),
    }
}

fn describe(profile: &Profile) -> String {
    match &profile.email {
        Some(email) => format!("{} <{email}>", profile.display_name()),
        None => profile.display_name().to_owned(),
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    // Doctor reads the configuration itself: a broken one is its first finding, not an error.
    if matches!(cli.command, Command::Doctor) {
        return Ok(doctor(cli.config.as_deref()).await);
    }
    let config = match &cli.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::find().map_err(|e| e.to_string())?.0,
    };
    let no_browser = matches!(
        cli.command,
        Command::Login {
            no_browser: true,
            ..
        }
    );
    let browser: Arc<dyn BrowserLauncher> = match BrowserCommand::from_env() {
        _ if no_browser => Arc::new(NoBrowser),
        Some(named) => Arc::new(named),
        None => Arc::new(SystemBrowser),
    };
    let session = Session::with_browser(config, browser);
    match cli.command {
        Command::Doctor => Ok(doctor(cli.config.as_deref()).await),
        Command::Login {
            signup,
            user,
            device,
            browser,
            no_browser,
        } => {
            if let Some(rule) = device_rule(device, browser || no_browser) {
                match login_device(&session, rule).await {
                    // Chosen by itself at a provider without the device grant: the browser way.
                    Err(DeviceLogin::Unsupported(why)) if !device => {
                        eprintln!("note: {why}; printing the browser sign-in URL instead");
                    }
                    Err(DeviceLogin::Unsupported(why) | DeviceLogin::Failed(why)) => {
                        return Err(why);
                    }
                    Ok(code) => return Ok(code),
                }
            }
            // With an account kept already, the provider's chooser opens: this adds one.
            let adding = session
                .accounts()
                .await
                .is_ok_and(|list| !list.accounts.is_empty());
            let options = LoginOptions {
                signup,
                login_hint: user,
                force_login: adding,
                ..LoginOptions::default()
            };
            let profile = session
                .login(options, |url| {
                    if no_browser {
                        eprintln!(
                            "Open this URL in a browser on this machine (it answers to this machine's \
                             127.0.0.1). Over SSH, use `latchkey-cli login --device` instead.\n\n  {url}\n"
                        );
                    } else {
                        eprintln!(
                            "Sign in in your browser. If it did not open, open this URL:\n\n  {url}\n"
                        );
                    }
                })
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", signed_in_as(&profile));
            note_other_accounts(&session).await;
            if let Some(problem) = session.vault_problem() {
                eprintln!("warning: {problem}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Accounts => accounts(&session).await,
        Command::Switch { account } => {
            let entry = find_account(&session, &account).await?;
            let profile = session
                .switch_account(&entry)
                .await
                .map_err(|e| e.to_string())?;
            println!("Switched to {}", describe(&profile));
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => {
            let restored = session.restore().await;
            retry_revocations(&session).await;
            match restored {
                Ok(Restored::SignedIn(profile)) => {
                    println!("{} at {}", signed_in_as(&profile), session.config().issuer);
                    note_other_accounts(&session).await;
                    Ok(ExitCode::SUCCESS)
                }
                Ok(Restored::Offline {
                    profile,
                    reason,
                    details,
                }) => {
                    let whose = profile
                        .map(|p| format!(" for {}", describe(&p)))
                        .unwrap_or_default();
                    println!("Offline; session kept{whose}.");
                    eprintln!("{reason}; try again when it answers.\ndetails: {details}");
                    Ok(ExitCode::from(EXIT_OFFLINE))
                }
                Ok(Restored::NothingStored) => {
                    println!("Not signed in. Run `latchkey-cli login`.");
                    Ok(ExitCode::from(1))
                }
                Err(err) if err.ended_the_session() => {
                    println!("{}", session_ended(&err));
                    Ok(ExitCode::from(1))
                }
                Err(err) => Err(err.to_string()),
            }
        }
        Command::Call { url, account } => {
            let session = match account {
                Some(account) => session.for_account(&find_account(&session, &account).await?),
                None => session,
            };
            match session.restore().await {
                Ok(Restored::SignedIn(_)) => {}
                Ok(Restored::Offline { reason, .. }) => {
                    return Err(format!(
                        "offline, so the API cannot be called now: {reason}"
                    ));
                }
                Err(err) if err.ended_the_session() => return Err(session_ended(&err)),
                Ok(Restored::NothingStored) => {
                    return Err("not signed in; run `latchkey-cli login` first".into());
                }
                Err(err) => return Err(err.to_string()),
            }
            let api = ApiClient::new(session);
            let response = api.get(&url).await.map_err(|e| e.to_string())?;
            if !response.authorized {
                eprintln!(
                    "note: {url} is not under apiUrl {}; sent without a token",
                    api.base()
                );
            }
            eprintln!("HTTP {}", response.status);
            println!("{}", response.body);
            Ok(if (200..300).contains(&response.status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Logout {
            provider,
            all,
            account,
        } => {
            if all {
                let outcome = session.logout_all().await;
                println!("Signed out of every account.");
                report_revocation(&outcome);
                return Ok(ExitCode::SUCCESS);
            }
            let list = session.accounts().await.map_err(|e| e.to_string())?;
            let (session, leaving) = match account {
                Some(selector) => {
                    let account = list.find(&selector).map_err(|e| e.to_string())?;
                    (session.for_account(&account.entry), Some(account.clone()))
                }
                None => (session, list.active().cloned()),
            };
            let browser_here = device_rule(false, false).is_none();
            if provider && browser_here {
                // A current ID token names the session to end (id_token_hint), so the provider
                // need not ask which one; without it (offline, signed out) it may ask.
                if let Err(err) = session.restore().await {
                    tracing::debug!("no ID token to hint the end of the session with: {err}");
                }
            }
            let outcome = session.logout().await;
            let after = session.accounts().await.unwrap_or_default();
            // An account the provider gave no name or email for is not called by its `sub`.
            let named = |a: &latchkey_auth::Account| a.name.clone().or_else(|| a.email.clone());
            let left = leaving.as_ref().and_then(named);
            match (left, after.active()) {
                (None, _) => println!("Signed out."),
                (Some(left), Some(now)) if list.active == leaving.map(|a| a.entry) => {
                    println!(
                        "Signed out of {left}. {} is the active account now.",
                        now.label()
                    );
                }
                (Some(left), _) => println!("Signed out of {left}."),
            }
            report_revocation(&outcome);
            match outcome.end_session_url {
                Some(url) if provider && browser_here => {
                    eprintln!("Ending your session at the provider in the browser…");
                    match session
                        .end_provider_session(&url, END_SESSION_TIMEOUT)
                        .await
                    {
                        Ok(()) => println!("Signed out at the provider too."),
                        Err(err) => {
                            eprintln!(
                                "note: your session at the provider may still be open: {err}"
                            );
                        }
                    }
                }
                // The ID token stays out of the terminal: the URL goes without its hint.
                Some(url) if provider => eprintln!(
                    "No browser can be opened here. To end your session at the provider, open in \
                     a browser:\n  {}",
                    without_id_token_hint(&url)
                ),
                Some(_) => eprintln!(
                    "Your session at the provider (in the browser) is still open; \
                     `latchkey-cli logout --provider` ends it too."
                ),
                None if provider => {
                    eprintln!("note: the provider offers no end-session endpoint to sign out there")
                }
                None => {}
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
