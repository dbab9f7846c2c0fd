//! What the dev IdP remembers across restarts: its users (sign-ups, names, `user_metadata`,
//! last sign-in) and its signing keys, in one SQLite file. Codes, grants and refresh tokens
//! stay in memory: a restart signs every client out, as a provider's outage can.
//!
//! Changes are written in the order they happen by one writer task, so the request that made
//! one never waits for the disk; [`Writer::flush`] waits until all are written (a stop does).
//! The file holds the private signing keys and password hashes: it is created readable by its
//! owner only.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::users::User;

/// A key as stored: its id and its private key (PKCS#1 DER).
#[derive(Clone)]
pub(crate) struct StoredKey {
    pub kid: String,
    pub der: Vec<u8>,
}

/// One change to write.
enum Write {
    User(Box<User>),
    /// The whole key ring, current key first.
    Keys(Vec<StoredKey>),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// The open data file.
pub(crate) struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY,
        sub TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        permissions TEXT NOT NULL,
        user_metadata TEXT NOT NULL,
        last_login INTEGER,
        logins_count INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS signing_keys (
        position INTEGER PRIMARY KEY,
        kid TEXT NOT NULL,
        der BLOB NOT NULL
    )",
];

impl Store {
    /// Opens `path`, creating the file (owner-only) and its folder when missing.
    pub(crate) async fn open(path: &Path) -> anyhow::Result<Self> {
        let describe = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("the dev IdP's data file {}: {e}", path.display())
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| describe(&e))?;
        }
        create_private(path).map_err(|e| describe(&e))?;
        let options = SqliteConnectOptions::new().filename(path);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| describe(&e))?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .map_err(|e| describe(&e))?;
        }
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) async fn users(&self) -> anyhow::Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT username, sub, password_hash, name, email, permissions, user_metadata, \
             last_login, logins_count FROM users ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let permissions: Vec<String> =
                    serde_json::from_str(row.try_get::<&str, _>("permissions")?)?;
                let user_metadata: Map<String, Value> =
                    serde_json::from_str(row.try_get::<&str, _>("user_metadata")?)?;
                Ok(User {
                    username: row.try_get("username")?,
                    sub: row.try_get("sub")?,
                    password_hash: row.try_get("password_hash")?,
                    name: row.try_get("name")?,
                    email: row.try_get("email")?,
                    permissions,
                    user_metadata,
                    last_login: row.try_get("last_login")?,
                    logins_count: u64::try_from(row.try_get::<i64, _>("logins_count")?)
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The stored keys, current first.
    pub(crate) async fn keys(&self) -> anyhow::Result<Vec<StoredKey>> {
        let rows = sqlx::query("SELECT kid, der FROM signing_keys ORDER BY position")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    kid: row.try_get("kid")?,
                    der: row.try_get("der")?,
                })
            })
            .collect()
    }

    /// Starts the writer task; changes sent to the [`Writer`] are written in order.
    pub(crate) fn writer(&self) -> Writer {
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        let pool = self.pool.clone();
        let path = self.path.clone();
        tokio::spawn(async move {
            while let Some(write) = rx.recv().await {
                let written = match write {
                    Write::User(user) => save_user(&pool, &user).await,
                    Write::Keys(keys) => save_keys(&pool, &keys).await,
                    Write::Flush(done) => {
                        let _ = done.send(());
                        Ok(())
                    }
                };
                if let Err(err) = written {
                    tracing::error!(
                        "cannot write the dev IdP's data file {}: {err}",
                        path.display()
                    );
                }
            }
        });
        Writer { tx }
    }
}

/// Creates `path` readable and writable by its owner only (it holds private keys), or
/// leaves an existing file as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

async fn save_user(pool: &SqlitePool, user: &User) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO users (username, sub, password_hash, name, email, permissions, \
         user_metadata, last_login, logins_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (username) DO UPDATE SET sub = excluded.sub, \
         password_hash = excluded.password_hash, name = excluded.name, email = excluded.email, \
         permissions = excluded.permissions, user_metadata = excluded.user_metadata, \
         last_login = excluded.last_login, logins_count = excluded.logins_count",
    )
    .bind(&user.username)
    .bind(&user.sub)
    .bind(&user.password_hash)
    .bind(&user.name)
    .bind(&user.email)
    .bind(serde_json::to_string(&user.permissions)?)
    .bind(serde_json::to_string(&user.user_metadata)?)
    .bind(user.last_login)
    .bind(i64::try_from(user.logins_count).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

async fn save_keys(pool: &SqlitePool, keys: &[StoredKey]) -> anyhow::Result<()> {
    let mut tx: Transaction<'_, Sqlite> = pool.begin().await?;
    sqlx::query("DELETE FROM signing_keys")
        .execute(&mut *tx)
        .await?;
    for (position, key) in keys.iter().enumerate() {
        sqlx::query("INSERT INTO signing_keys (position, kid, der) VALUES (?, ?, ?)")
            .bind(i64::try_from(position)?)
            .bind(&key.kid)
            .bind(&key.der)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sends changes to the writer task; cheap to clone, never blocks.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Write>,
}

impl Writer {
    pub(crate) fn user(&self, user: &User) {
        let _ = self.tx.send(Write::User(Box::new(user.clone())));
    }

    pub(crate) fn keys(&self, keys: Vec<StoredKey>) {
        let _ = self.tx.send(Write::Keys(keys));
    }

    /// Waits until every change sent so far is written.
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Write::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}
