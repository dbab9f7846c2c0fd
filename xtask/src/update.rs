//! Signed updates: the update manifest (`latest.json`) the release workflow publishes, and the
//! update test the test run plays end to end with a throwaway key.
//!
//! - `cargo xtask update-manifest --version V --base-url URL [--notes FILE] DIR`: writes
//!   `DIR/latest.json` for the packages in DIR that have a `.sig` beside them, with one entry
//!   per format (`linux-x86_64-deb`, `linux-x86_64-rpm`, `windows-x86_64-nsis`, …).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;
use crate::bundle::{VERSION, build_bundles, find_bundle};
use crate::stage::InKeyringSession;
use crate::util::{run, target_dir, workspace_root};

/// The version the update test offers over the installed one.
pub(crate) const NEXT_VERSION: &str = "0.1.1";

/// A throwaway minisign key pair made by the Tauri CLI (no password): the private key's file
/// and the public key as `tauri.conf.json` takes it.
pub(crate) struct TestKey {
    pub(crate) private: PathBuf,
    pub(crate) public: String,
}

pub(crate) fn throwaway_key(dir: &Path) -> Result<TestKey> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let private = dir.join("update.key");
    let made = Command::new(tauri_cli())
        .args([
            "signer",
            "generate",
            "--ci",
            "--password",
            "",
            "--write-keys",
        ])
        .arg(&private)
        .output()
        .map_err(|e| format!("tauri signer generate: {e}"))?;
    if !made.status.success() {
        // Its output would hold the key: only the status is said.
        return Err(format!("tauri signer generate failed ({})", made.status));
    }
    let public = std::fs::read_to_string(dir.join("update.key.pub"))
        .map_err(|e| format!("the throwaway key's public half: {e}"))?;
    Ok(TestKey {
        private,
        public: public.trim().to_owned(),
    })
}

/// Signs `file` for `version` with `key` (writes `file.sig`), as the release workflow's
/// bundler does with `TAURI_SIGNING_PRIVATE_KEY`.
pub(crate) fn sign(file: &Path, version: &str, key: &Path) -> Result {
    let signed = Command::new(tauri_cli())
        .args(["signer", "sign", "--password", "", "--app-version", version])
        .arg("--private-key-path")
        .arg(key)
        .arg(file)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("tauri signer sign: {e}"))?;
    if signed.success() {
        Ok(())
    } else {
        Err(format!("signing {} failed ({signed})", file.display()))
    }
}

fn tauri_cli() -> PathBuf {
    workspace_root().join("node_modules/.bin/tauri")
}

/// The updater's name for a package file's format and architecture, and the plain
/// `{os}-{arch}` fallback it also looks for (given only where no other format of that OS
/// would be found by it instead).
fn manifest_keys(file: &str) -> Vec<String> {
    let arch = if file.contains("aarch64") || file.contains("arm64") {
        "aarch64"
    } else {
        "x86_64"
    };
    if file.ends_with(".deb") {
        vec![format!("linux-{arch}-deb")]
    } else if file.ends_with(".rpm") {
        vec![format!("linux-{arch}-rpm")]
    } else if file.ends_with(".AppImage") {
        vec![format!("linux-{arch}-appimage"), format!("linux-{arch}")]
    } else if file.ends_with("-setup.exe") {
        vec![format!("windows-{arch}-nsis"), format!("windows-{arch}")]
    } else if file.ends_with(".msi") {
        vec![format!("windows-{arch}-msi")]
    } else if file.ends_with(".app.tar.gz") {
        vec![format!("darwin-{arch}-app"), format!("darwin-{arch}")]
    } else {
        Vec::new()
    }
}

/// The update manifest for `version`: every package in `dirs` with a `.sig` beside it, under
/// its format's key, at `base_url` + its file name.
pub(crate) fn manifest(
    version: &str,
    notes: &str,
    base_url: &str,
    dirs: &[PathBuf],
) -> Result<String> {
    let mut platforms = Vec::new();
    for dir in dirs {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let keys = manifest_keys(&name);
            let sig = PathBuf::from(format!("{}.sig", path.display()));
            if keys.is_empty() || !sig.exists() {
                continue;
            }
            let signature =
                std::fs::read_to_string(&sig).map_err(|e| format!("{}: {e}", sig.display()))?;
            let url = format!("{}/{}", base_url.trim_end_matches('/'), name);
            for key in keys {
                if platforms.iter().any(|(k, _, _)| k == &key) {
                    return Err(format!("two packages for {key} in {}", dir.display()));
                }
                platforms.push((key, url.clone(), signature.trim().to_owned()));
            }
        }
    }
    if platforms.is_empty() {
        return Err(
            "no signed package (a file with a .sig beside it) to put in the manifest".into(),
        );
    }
    let entries: Vec<String> = platforms
        .iter()
        .map(|(key, url, signature)| {
            format!(
                "    {}: {{ \"url\": {}, \"signature\": {} }}",
                json_string(key),
                json_string(url),
                json_string(signature)
            )
        })
        .collect();
    Ok(format!(
        "{{\n  \"version\": {},\n  \"notes\": {},\n  \"pub_date\": {},\n  \"platforms\": {{\n{}\n  }}\n}}\n",
        json_string(version),
        json_string(notes),
        json_string(&now_rfc3339()),
        entries.join(",\n")
    ))
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Now in RFC 3339 (UTC), from `date`.
fn now_rfc3339() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// `cargo xtask update-manifest --version V --base-url URL [--notes FILE] DIR...`
pub(crate) fn update_manifest(args: &[String]) -> Result {
    let mut version = None;
    let mut base_url = None;
    let mut notes = String::new();
    let mut dirs = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--version" => version = Some(value("--version")?),
            "--base-url" => base_url = Some(value("--base-url")?),
            "--notes" => {
                let file = value("--notes")?;
                notes = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
            }
            dir => dirs.push(PathBuf::from(dir)),
        }
    }
    let usage =
        "usage: cargo xtask update-manifest --version V --base-url URL [--notes FILE] DIR...";
    let (Some(version), Some(base_url), false) = (version, base_url, dirs.is_empty()) else {
        return Err(usage.into());
    };
    let json = manifest(
        version.trim_start_matches('v'),
        notes.trim(),
        &base_url,
        &dirs,
    )?;
    let out = dirs[0].join("latest.json");
    std::fs::write(&out, json).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// The update test's packages: the installed version and the next one, debug builds that
/// differ by their version only (one crate recompiled), both knowing the throwaway key.
pub(crate) struct UpdatePackages {
    pub(crate) key: TestKey,
    pub(crate) installed: PathBuf,
    pub(crate) next_dir: PathBuf,
}

pub(crate) fn build_update_packages() -> Result<UpdatePackages> {
    let work = target_dir().join("update-test");
    let key = throwaway_key(&work.join("key"))?;
    let config = |version: &str| {
        format!(
            "{{\"version\":\"{version}\",\"plugins\":{{\"updater\":{{\"pubkey\":{}}}}}}}",
            json_string(&key.public)
        )
    };
    let keep = |version: &str, dir: &Path| -> Result<PathBuf> {
        let built = find_bundle("debug", "deb", Some(&format!("_{version}_")))?;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let kept = dir.join(built.file_name().unwrap_or_default());
        std::fs::rename(&built, &kept).map_err(|e| format!("{}: {e}", built.display()))?;
        Ok(kept)
    };
    build_bundles(true, &["deb"], Some(&config(VERSION)))?;
    let installed = keep(VERSION, &work.join("installed"))?;
    build_bundles(true, &["deb"], Some(&config(NEXT_VERSION)))?;
    let next_dir = work.join("next");
    let _ = std::fs::remove_dir_all(&next_dir);
    let next = keep(NEXT_VERSION, &next_dir)?;
    sign(&next, NEXT_VERSION, &key.private)?;
    Ok(UpdatePackages {
        key,
        installed,
        next_dir,
    })
}

/// Builds the two versions, writes the next one's manifest as the release workflow would (at
/// a placeholder base URL the test replaces with its server's), and runs `tests/installed`'s
/// update test in a private D-Bus session under Xvfb. Returns its counts.
pub(crate) fn update_test(target: &Path) -> Result<(u64, u64, u64)> {
    let packages = build_update_packages()?;
    let manifest = manifest(
        NEXT_VERSION,
        "Fixes sign-in with providers that rotate their keys.",
        "http://updates.invalid/latchkey",
        std::slice::from_ref(&packages.next_dir),
    )?;
    let manifest_file = packages.next_dir.join("latest.json");
    std::fs::write(&manifest_file, manifest).map_err(|e| e.to_string())?;
    let (mut tests, home) = crate::package_check::installed_tests("update", target)?;
    tests
        .env("LATCHKEY_UPDATE_INSTALLED_DEB", &packages.installed)
        .env("LATCHKEY_UPDATE_MANIFEST", &manifest_file)
        .env("LATCHKEY_UPDATE_PUBKEY", &packages.key.public);
    let counted = crate::test::run_counting(tests.in_keyring_session());
    crate::stage::stop_keyring_daemons(&home.join("run"));
    // Whatever the test left installed goes.
    let _ = run(Command::new("dpkg").args(["-r", "latchkey"]));
    counted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_its_own_manifest_key() {
        assert_eq!(
            manifest_keys("Latchkey_0.2.0_amd64.deb"),
            ["linux-x86_64-deb"]
        );
        assert_eq!(
            manifest_keys("Latchkey-0.2.0-1.x86_64.rpm"),
            ["linux-x86_64-rpm"]
        );
        assert_eq!(
            manifest_keys("Latchkey_0.2.0_x64-setup.exe"),
            ["windows-x86_64-nsis", "windows-x86_64"]
        );
        assert_eq!(
            manifest_keys("Latchkey_0.2.0_x64_en-US.msi"),
            ["windows-x86_64-msi"]
        );
        assert_eq!(
            manifest_keys("Latchkey_aarch64.app.tar.gz"),
            ["darwin-aarch64-app", "darwin-aarch64"]
        );
        assert!(manifest_keys("Latchkey_0.2.0_aarch64.dmg").is_empty());
        assert!(manifest_keys("latest.json").is_empty());
    }

    #[test]
    fn the_manifest_lists_signed_packages_only_with_their_signatures() {
        let dir = std::env::temp_dir().join(format!("xtask-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, body) in [
            ("Latchkey_0.2.0_amd64.deb", "deb"),
            ("Latchkey_0.2.0_amd64.deb.sig", "c2lnLWRlYg=="),
            ("Latchkey-0.2.0-1.x86_64.rpm", "rpm"),
            ("Latchkey-0.2.0-1.x86_64.rpm.sig", "c2lnLXJwbQ==\n"),
            ("Latchkey_0.2.0_x64-setup.exe", "unsigned"),
        ] {
            std::fs::write(dir.join(file), body).unwrap();
        }
        let json = manifest(
            "0.2.0",
            "Line one\n\"quoted\"",
            "https://example.com/dl/",
            std::slice::from_ref(&dir),
        )
        .unwrap();
        assert!(json.contains(r#""version": "0.2.0""#), "{json}");
        assert!(
            json.contains(r#""notes": "Line one\n\"quoted\"""#),
            "{json}"
        );
        assert!(
            json.contains(r#""linux-x86_64-deb": { "url": "https://example.com/dl/Latchkey_0.2.0_amd64.deb", "signature": "c2lnLWRlYg==" }"#),
            "{json}"
        );
        assert!(
            json.contains(r#""linux-x86_64-rpm": { "url": "https://example.com/dl/Latchkey-0.2.0-1.x86_64.rpm", "signature": "c2lnLXJwbQ==" }"#),
            "{json}"
        );
        assert!(
            !json.contains("windows"),
            "an unsigned package is left out: {json}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let empty =
            std::env::temp_dir().join(format!("xtask-manifest-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        assert!(manifest("0.2.0", "", "https://x", std::slice::from_ref(&empty)).is_err());
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
