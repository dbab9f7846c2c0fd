//! Where the todos live: SQLite by default (a file, created on first run), PostgreSQL when
//! the URL says so. One code path through sqlx's `Any` driver; the migrations in
//! `migrations/` are written to run on both.

use std::path::Path;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// A todo as stored: always read back by id *and* owner.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    pub id: String,
    pub title: String,
    pub done: bool,
    /// Unix time in microseconds.
    pub created_at: i64,
}

/// What a change may set.
#[derive(Debug, Default)]
pub struct TodoChange {
    pub title: Option<String>,
    pub done: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects to `url` (`sqlite://…`, `postgres://…`) and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            // SQLite has one writer; several connections only queue on its lock.
            .max_connections(if sqlite { 1 } else { 8 })
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// A SQLite file at `path`, created (with its directory) when missing.
    pub async fn sqlite_file(path: &Path) -> Result<Self, sqlx::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // The Any driver reads the URL with the `url` crate first. `sqlite://C:\Users\…` comes
        // out of it with `C` as a host and no drive, and SQLite cannot open the file; on
        // Windows the file goes after `sqlite:` alone, with `/` (`sqlite:C:/Users/…`).
        let url = if cfg!(windows) {
            format!(
                "sqlite:{}?mode=rwc",
                path.display().to_string().replace('\\', "/")
            )
        } else {
            format!("sqlite://{}?mode=rwc", path.display())
        };
        Self::connect(&url).await
    }

    pub async fn list(&self, owner: &str) -> Result<Vec<Todo>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, title, done, created_at FROM todos WHERE owner = $1 \
             ORDER BY created_at, id",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(todo).collect()
    }

    pub async fn count(&self, owner: &str) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM todos WHERE owner = $1")
            .bind(owner)
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>("n")
    }

    pub async fn get(&self, owner: &str, id: &str) -> Result<Option<Todo>, sqlx::Error> {
        sqlx::query("SELECT id, title, done, created_at FROM todos WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(todo)
            .transpose()
    }

    pub async fn add(&self, owner: &str, title: &str) -> Result<Todo, sqlx::Error> {
        let now = now_micros();
        let todo = Todo {
            id: uuid::Uuid::new_v4().to_string(),
            title: title.to_owned(),
            done: false,
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO todos (id, owner, title, done, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $4)",
        )
        .bind(&todo.id)
        .bind(owner)
        .bind(&todo.title)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(todo)
    }

    /// Applies `change` to the owner's todo; `None` when the owner has no such todo.
    pub async fn update(
        &self,
        owner: &str,
        id: &str,
        change: &TodoChange,
    ) -> Result<Option<Todo>, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE todos SET title = COALESCE($1, title), done = COALESCE($2, done), \
             updated_at = $3 WHERE id = $4 AND owner = $5",
        )
        .bind(change.title.as_deref())
        .bind(change.done.map(i64::from))
        .bind(now_micros())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        self.get(owner, id).await
    }

    /// Deletes the owner's todo; `false` when the owner has no such todo.
    pub async fn delete(&self, owner: &str, id: &str) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM todos WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}

fn todo(row: &sqlx::any::AnyRow) -> Result<Todo, sqlx::Error> {
    Ok(Todo {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        done: row.try_get::<i64, _>("done")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}
