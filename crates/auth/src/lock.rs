//! One redemption of the stored refresh token at a time, across every Latchkey process.
//!
//! The desktop app and the CLI share one vault entry. A rotating provider accepts each
//! refresh token once and treats a second use as theft (OAuth 2.0 Security BCP §4.14.2):
//! two processes redeeming the same token at once end the whole session. So every
//! redemption happens under an OS file lock for that entry (`flock` on Unix, `LockFileEx` on
//! Windows, through `std::fs::File::try_lock`), and the lock holder re-reads the vault before
//! it redeems anything. The lock is released when the guard drops, or by the OS when the
//! process dies, so a crash never leaves it held.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a redemption waits for another process's before giving up. A refresh holds the
/// lock for one token request (30 s at most) and one vault write (10 s at most).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(45);

/// How often a waiting process tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Why the lock could not be taken.
#[derive(Clone, Debug, thiserror::Error)]
pub enum LockError {
    /// Another process held the lock for longer than the timeout.
    #[error(
        "another process of this app has been renewing the session for over {} s; try again",
        .0.as_secs()
    )]
    TimedOut(Duration),
}

/// The lock file of one vault entry.
#[derive(Clone, Debug)]
pub struct EntryLock {
    path: Option<PathBuf>,
}

/// Held while this process may redeem the stored refresh token.
#[derive(Debug)]
pub struct EntryLockGuard {
    _file: Option<File>,
}

impl EntryLock {
    /// The lock for the vault entry `account`, in the user's runtime directory
    /// (`$XDG_RUNTIME_DIR/latchkey`), else the local data directory (`%LOCALAPPDATA%\latchkey`
    /// on Windows, `~/Library/Application Support/latchkey` on macOS).
    pub fn for_account(account: &str) -> Self {
        Self::in_dir(crate::AppIdentity::latchkey().lock_dir(), account)
    }

    /// The lock for the vault entry `account` in `dir` (an app's [`crate::AppIdentity`] lock
    /// directory); no lock file when there is no directory.
    pub fn in_dir(dir: Option<&Path>, account: &str) -> Self {
        Self {
            path: dir.map(|d| d.join(file_name(account))),
        }
    }

    /// A lock file at `path` (for tests).
    pub fn at(path: &Path) -> Self {
        Self {
            path: Some(path.to_owned()),
        }
    }

    /// Where the lock file is, if this machine has a directory for it.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Waits up to `timeout` for the lock. A machine where the lock file cannot be created
    /// (no writable directory) goes on without it, with a warning: refusing every refresh
    /// there would be worse than the race the lock prevents.
    pub async fn acquire(&self, timeout: Duration) -> Result<EntryLockGuard, LockError> {
        let Some(path) = &self.path else {
            tracing::warn!("no directory for the session lock; renewing without it");
            return Ok(EntryLockGuard { _file: None });
        };
        let file = match open(path) {
            Ok(file) => file,
            Err(err) => {
                tracing::warn!(
                    "cannot open the session lock {} ({err}); renewing without it",
                    path.display()
                );
                return Ok(EntryLockGuard { _file: None });
            }
        };
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(EntryLockGuard { _file: Some(file) }),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(err)) => {
                    tracing::warn!(
                        "the session lock {} failed ({err}); renewing without it",
                        path.display()
                    );
                    return Ok(EntryLockGuard { _file: None });
                }
            }
            if started.elapsed() >= timeout {
                return Err(LockError::TimedOut(timeout));
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A file name for `account` (`client@issuer`): readable, safe on every file system, and
/// distinct per account (a 64-bit FNV-1a digest of the whole name; not a secret).
fn file_name(account: &str) -> String {
    let readable: String = account
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(48)
        .collect();
    let digest = account.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("session-{readable}-{digest:016x}.lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("latchkey-lock-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("entry.lock")
    }

    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_lets_go() {
        let path = scratch("wait");
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let first = EntryLock::at(&path).acquire(LOCK_TIMEOUT).await.unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let second = EntryLock::at(&path);
        let waiting = tokio::spawn({
            let released = released.clone();
            async move {
                let _guard = second.acquire(LOCK_TIMEOUT).await.unwrap();
                // What the second holder saw the moment it got the lock.
                released.load(Ordering::SeqCst)
            }
        });
        // Time for a broken lock to let the second holder in early.
        tokio::time::sleep(Duration::from_millis(300)).await;
        released.store(true, Ordering::SeqCst);
        drop(first);
        assert!(
            waiting.await.unwrap(),
            "the second holder got the lock only after the first released it"
        );
    }

    #[tokio::test]
    async fn waiting_too_long_is_a_clear_error() {
        let path = scratch("timeout");
        let _held = EntryLock::at(&path).acquire(LOCK_TIMEOUT).await.unwrap();
        let err = EntryLock::at(&path)
            .acquire(Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("another process of this app has been renewing the session"),
            "{err}"
        );
    }

    #[test]
    fn each_account_has_its_own_safe_file_name() {
        let a = file_name("latchkey-desktop@https://tenant.eu.auth0.com/");
        let b = file_name("latchkey-desktop@https://tenant.us.auth0.com/");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{a}"
        );
    }
}
