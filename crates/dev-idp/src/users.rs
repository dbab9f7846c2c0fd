//! Demo users and sign-up. Passwords are kept as salted PBKDF2-HMAC-SHA256 hashes, never as
//! typed; with a data file every change is written through (see [`crate::store`]).

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::pbkdf2;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::store::Writer;

/// The password every demo user has.
pub const DEMO_PASSWORD: &str = "todo";

/// The permission that unlocks the sample API's admin message.
pub const ADMIN_PERMISSION: &str = "read:admin-messages";
/// The permission that unlocks the sample API's user list.
pub const USERS_PERMISSION: &str = "read:users";

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub sub: String,
    pub username: String,
    /// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (base64): see [`hash_password`].
    #[serde(skip)]
    pub password_hash: String,
    pub name: String,
    pub email: String,
    pub permissions: Vec<String>,
    /// What the user may change about themselves (Auth0's `user_metadata`): the management
    /// API merges updates into it. `given_name` / `family_name` here win over `name`.
    pub user_metadata: Map<String, Value>,
    /// When the user last signed in (seconds since the epoch), and how often they have.
    pub last_login: Option<i64>,
    pub logins_count: u64,
}

/// The connection (identity source) of every dev-idp user: a username-password database,
/// whose users may change their email (social sign-ins could not).
pub const DATABASE_CONNECTION: &str = "Username-Password-Authentication";

impl User {
    fn metadata_text(&self, key: &str) -> Option<&str> {
        self.user_metadata
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn given_name(&self) -> Option<&str> {
        self.metadata_text("given_name")
            .or_else(|| self.name.split_whitespace().next())
    }

    pub fn family_name(&self) -> Option<&str> {
        self.metadata_text("family_name").or_else(|| {
            let mut words = self.name.splitn(2, char::is_whitespace);
            words.next();
            words.next().map(str::trim).filter(|w| !w.is_empty())
        })
    }

    /// The `name` claim: the names from `user_metadata` when there are any (what an Auth0
    /// Action adding them to the tokens would do), else the root `name`.
    pub fn display_name(&self) -> String {
        let given = self.metadata_text("given_name");
        let family = self.metadata_text("family_name");
        if given.is_none() && family.is_none() {
            return self.name.clone();
        }
        [self.given_name(), self.family_name()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Why a sign-up was refused, in words for the form.
#[derive(Debug, PartialEq, Eq)]
pub enum SignupRefusal {
    UsernameTaken,
    BadUsername,
    WeakPassword,
}

impl SignupRefusal {
    pub fn message(&self) -> &'static str {
        match self {
            Self::UsernameTaken => "That username is taken. Choose another one.",
            Self::BadUsername => {
                "A username has 3 to 32 characters: lower-case letters, digits, '.', '-' or '_'."
            }
            Self::WeakPassword => {
                "A password needs at least 8 characters, with a letter and a digit."
            }
        }
    }
}

/// PBKDF2 rounds: a development provider's demo accounts, hashed so that a copied data file
/// does not give away what people typed (a production provider would use a memory-hard
/// hash and far more work).
const PBKDF2_ROUNDS: u32 = 10_000;
const PBKDF2_FORMAT: &str = "pbkdf2-sha256";

/// A salted hash of `password` in the format [`verify_password`] reads.
pub(crate) fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    let mut hash = [0u8; 32];
    let rounds = NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    format!(
        "{PBKDF2_FORMAT}${PBKDF2_ROUNDS}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    )
}

/// Whether `password` is the one `stored` was made from (constant time); a malformed
/// `stored` matches nothing.
pub(crate) fn verify_password(stored: &str, password: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(PBKDF2_FORMAT), Some(rounds), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(rounds), Ok(salt), Ok(hash)) = (
        rounds.parse().ok().and_then(NonZeroU32::new),
        STANDARD_NO_PAD.decode(salt),
        STANDARD_NO_PAD.decode(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

pub(crate) struct Directory {
    by_username: BTreeMap<String, User>,
    /// Where changes go when the provider has a data file.
    writer: Option<Writer>,
}

impl Directory {
    /// The directory `users` make (from a data file), writing changes to `writer`; the demo
    /// users when there are none yet, written too.
    pub(crate) fn load(users: Vec<User>, writer: Option<Writer>) -> Self {
        if users.is_empty() {
            let directory = Self {
                writer,
                ..Self::with_demo_users()
            };
            for user in directory.by_username.values() {
                directory.save(user);
            }
            return directory;
        }
        Self {
            by_username: users
                .into_iter()
                .map(|user| (user.username.clone(), user))
                .collect(),
            writer,
        }
    }

    fn save(&self, user: &User) {
        if let Some(writer) = &self.writer {
            writer.user(user);
        }
    }

    pub(crate) fn with_demo_users() -> Self {
        let mut by_username = BTreeMap::new();
        let demo_hash = hash_password(DEMO_PASSWORD);
        for (username, name, admin) in [
            ("jemma", "Jemma Doe", false),
            ("paul", "Paul Smith", false),
            ("sebastian", "Sebastian Admin", true),
        ] {
            let user = User {
                sub: format!("dev-idp|{username}"),
                username: username.to_owned(),
                password_hash: demo_hash.clone(),
                name: name.to_owned(),
                email: format!("{username}@example.com"),
                permissions: if admin {
                    vec![ADMIN_PERMISSION.to_owned(), USERS_PERMISSION.to_owned()]
                } else {
                    Vec::new()
                },
                user_metadata: Map::new(),
                last_login: None,
                logins_count: 0,
            };
            by_username.insert(username.to_owned(), user);
        }
        Self {
            by_username,
            writer: None,
        }
    }

    /// The user with these credentials, whose sign-in is counted now.
    pub(crate) fn authenticate(&mut self, username: &str, password: &str) -> Option<User> {
        let user = self
            .by_username
            .get_mut(username.trim())
            .filter(|u| verify_password(&u.password_hash, password))?;
        user.last_login = Some(crate::now_secs());
        user.logins_count += 1;
        let user = user.clone();
        self.save(&user);
        Some(user)
    }

    /// The users whose name, email or username contains every word of `words` (any case),
    /// by username.
    pub(crate) fn search(&self, words: &[String]) -> Vec<User> {
        self.by_username
            .values()
            .filter(|user| {
                let haystack = format!("{} {} {}", user.display_name(), user.email, user.username)
                    .to_lowercase();
                words.iter().all(|w| haystack.contains(&w.to_lowercase()))
            })
            .cloned()
            .collect()
    }

    pub(crate) fn by_sub(&self, sub: &str) -> Option<User> {
        self.by_username.values().find(|u| u.sub == sub).cloned()
    }

    /// Changes the user `sub` with `change` (and writes it); `None` when there is none.
    pub(crate) fn update(&mut self, sub: &str, change: impl FnOnce(&mut User)) -> Option<User> {
        let user = self.by_username.values_mut().find(|u| u.sub == sub)?;
        change(user);
        let user = user.clone();
        self.save(&user);
        Some(user)
    }

    pub(crate) fn by_username(&self, username: &str) -> Option<User> {
        self.by_username.get(username).cloned()
    }

    pub(crate) fn sign_up(
        &mut self,
        username: &str,
        password: &str,
        name: &str,
    ) -> Result<User, SignupRefusal> {
        let username = username.trim();
        let valid_name = (3..=32).contains(&username.len())
            && username
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !valid_name {
            return Err(SignupRefusal::BadUsername);
        }
        if self.by_username.contains_key(username) {
            return Err(SignupRefusal::UsernameTaken);
        }
        let strong = password.chars().count() >= 8
            && password.chars().any(|c| c.is_alphabetic())
            && password.chars().any(|c| c.is_ascii_digit());
        if !strong {
            return Err(SignupRefusal::WeakPassword);
        }
        let name = name.trim();
        let user = User {
            sub: format!("dev-idp|{username}"),
            username: username.to_owned(),
            password_hash: hash_password(password),
            name: if name.is_empty() { username } else { name }.to_owned(),
            email: format!("{username}@example.com"),
            permissions: Vec::new(),
            user_metadata: Map::new(),
            last_login: Some(crate::now_secs()),
            logins_count: 1,
        };
        self.by_username.insert(username.to_owned(), user.clone());
        self.save(&user);
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_users_sign_in_with_the_demo_password_only() {
        let mut dir = Directory::with_demo_users();
        assert!(dir.authenticate("jemma", DEMO_PASSWORD).is_some());
        assert!(dir.authenticate("jemma", "wrong").is_none());
        let seb = dir.authenticate("sebastian", DEMO_PASSWORD).unwrap();
        assert_eq!(seb.permissions, vec![ADMIN_PERMISSION, USERS_PERMISSION]);
        assert_eq!(seb.logins_count, 1);
        assert!(seb.last_login.is_some());
    }

    #[test]
    fn passwords_are_kept_as_salted_hashes() {
        let one = hash_password("longer1pass");
        let two = hash_password("longer1pass");
        assert_ne!(one, two, "each hash has its own salt");
        assert!(!one.contains("longer1pass"));
        assert!(verify_password(&one, "longer1pass"));
        assert!(!verify_password(&one, "longer1pasS"));
        for broken in [
            "",
            "longer1pass",
            "pbkdf2-sha256$0$AA$AA",
            "md5$1$AA$AA",
            "pbkdf2-sha256$1$!$AA",
        ] {
            assert!(!verify_password(broken, "longer1pass"), "{broken}");
        }
    }

    #[test]
    fn sign_up_refuses_duplicates_bad_names_and_weak_passwords() {
        let mut dir = Directory::with_demo_users();
        assert_eq!(
            dir.sign_up("paul", "longer1pass", "").unwrap_err(),
            SignupRefusal::UsernameTaken
        );
        assert_eq!(
            dir.sign_up("A B", "longer1pass", "").unwrap_err(),
            SignupRefusal::BadUsername
        );
        assert_eq!(
            dir.sign_up("newbie", "short", "").unwrap_err(),
            SignupRefusal::WeakPassword
        );
        let user = dir.sign_up("newbie", "longer1pass", "New Bie").unwrap();
        assert_eq!(user.name, "New Bie");
        assert!(dir.authenticate("newbie", "longer1pass").is_some());
    }

    #[test]
    fn names_in_user_metadata_win_over_the_root_name() {
        let mut user = Directory::with_demo_users().by_username("jemma").unwrap();
        assert_eq!(user.display_name(), "Jemma Doe");
        assert_eq!(user.family_name(), Some("Doe"));
        user.user_metadata
            .insert("family_name".into(), "Lovelace".into());
        assert_eq!(user.display_name(), "Jemma Lovelace");
        assert_eq!(user.given_name(), Some("Jemma"));
    }
}
