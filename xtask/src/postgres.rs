//! A throwaway PostgreSQL cluster for the todo API tests.

use std::path::PathBuf;
use std::process::Command;

use crate::Result;

use crate::util::run;

/// A throwaway PostgreSQL cluster from Debian's packages, on a free loopback port, trusting
/// local connections; stopped and deleted when dropped.
#[cfg(unix)]
pub(crate) struct Postgres {
    pub(crate) url: String,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

#[cfg(unix)]
impl Postgres {
    pub(crate) fn start() -> Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("PostgreSQL is not installed (/usr/lib/postgresql: {e})"))?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .ok_or("no PostgreSQL server binaries under /usr/lib/postgresql")?;
        // PostgreSQL refuses to run as root; Debian's package made the `postgres` user.
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir = std::env::temp_dir().join(format!("latchkey-postgres-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let postgres = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_postgres,
        };
        if as_postgres {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&postgres.dir))?;
        }
        let data = postgres.dir.join("data");
        run(postgres
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .stdout(std::process::Stdio::null()))?;
        run(postgres
            .command("pg_ctl")
            .args(["-w", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(postgres.dir.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {} -F",
                postgres.dir.display()
            ))
            .arg("start"))?;
        Ok(postgres)
    }

    fn command(&self, tool: &str) -> Command {
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            cmd
        } else {
            Command::new(self.bin.join(tool))
        }
    }
}

#[cfg(unix)]
impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
