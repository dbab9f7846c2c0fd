//! Demo users and sign-up.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// The password every demo user has.
pub const DEMO_PASSWORD: &str = "todo";

/// The permission that unlocks the sample API's admin message.
pub const ADMIN_PERMISSION: &str = "read:admin-messages";

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub sub: String,
    pub username: String,
    #[serde(skip)]
    pub password: String,
    pub name: String,
    pub email: String,
    pub permissions: Vec<String>,
    /// What the user may change about themselves (Auth0's `user_metadata`): the management
    /// API merges updates into it. `given_name` / `family_name` here win over `name`.
    pub user_metadata: Map<String, Value>,
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

pub(crate) struct Directory {
    by_username: BTreeMap<String, User>,
}

impl Directory {
    pub(crate) fn with_demo_users() -> Self {
        let mut by_username = BTreeMap::new();
        for (username, name, admin) in [
            ("jemma", "Jemma Doe", false),
            ("paul", "Paul Smith", false),
            ("sebastian", "Sebastian Admin", true),
        ] {
            let user = User {
                sub: format!("dev-idp|{username}"),
                username: username.to_owned(),
                password: DEMO_PASSWORD.to_owned(),
                name: name.to_owned(),
                email: format!("{username}@example.com"),
                permissions: if admin {
                    vec![ADMIN_PERMISSION.to_owned()]
                } else {
                    Vec::new()
                },
                user_metadata: Map::new(),
            };
            by_username.insert(username.to_owned(), user);
        }
        Self { by_username }
    }

    pub(crate) fn authenticate(&self, username: &str, password: &str) -> Option<User> {
        self.by_username
            .get(username.trim())
            .filter(|u| u.password == password)
            .cloned()
    }

    pub(crate) fn by_sub(&self, sub: &str) -> Option<User> {
        self.by_username.values().find(|u| u.sub == sub).cloned()
    }

    pub(crate) fn by_sub_mut(&mut self, sub: &str) -> Option<&mut User> {
        self.by_username.values_mut().find(|u| u.sub == sub)
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
            password: password.to_owned(),
            name: if name.is_empty() { username } else { name }.to_owned(),
            email: format!("{username}@example.com"),
            permissions: Vec::new(),
            user_metadata: Map::new(),
        };
        self.by_username.insert(username.to_owned(), user.clone());
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_users_sign_in_with_the_demo_password_only() {
        let dir = Directory::with_demo_users();
        assert!(dir.authenticate("jemma", DEMO_PASSWORD).is_some());
        assert!(dir.authenticate("jemma", "wrong").is_none());
        let seb = dir.authenticate("sebastian", DEMO_PASSWORD).unwrap();
        assert_eq!(seb.permissions, vec![ADMIN_PERMISSION]);
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
