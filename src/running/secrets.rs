//! `LAB_HOME/secrets.json`: the passwords `lab up` gives Redis and MongoDB
//! and the key the billing API asks of writes.
//!
//! They are made once, on the first `lab up`, and kept (mode 0600) so that a
//! later `up` reopens the same stores with the same passwords. `lab env`
//! prints them as `REDIS_URL`, `MONGODB_URI` and `LAB_API_KEY`.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::services::mongo_server::Credentials;
use crate::services::secret::{create_private, random_token};

/// The MongoDB user the lab creates and logs in as.
pub const MONGODB_USER: &str = "lab";

/// The lab's own secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    /// What `Authorization: Bearer ...` must carry on the API's writes.
    pub api_key: String,
    /// Redis's `requirepass`.
    pub redis_password: String,
    /// The password of MongoDB's user [`MONGODB_USER`].
    pub mongodb_password: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// The secrets file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {reason}")]
pub struct SecretsError {
    action: &'static str,
    path: String,
    reason: String,
}

impl Secrets {
    /// The secrets of this `LAB_HOME`, made and saved if there are none yet.
    pub fn load_or_create(config: &Config) -> Result<Secrets, SecretsError> {
        let path = config.home.join("secrets.json");
        let failed = |action: &'static str| {
            let path = path.display().to_string();
            move |reason: &dyn std::fmt::Display| SecretsError {
                action,
                path,
                reason: reason.to_string(),
            }
        };
        let load = || -> Result<Option<Secrets>, SecretsError> {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(failed("read")(&error)),
            };
            let secrets: Secrets =
                serde_json::from_str(&text).map_err(|e| failed("understand")(&e))?;
            // They go into a URL, a header and Redis's settings file as they
            // are: anything but the hex digits the lab makes could break out.
            let well_formed = |secret: &str| {
                secret.len() == 32 && secret.bytes().all(|byte| byte.is_ascii_hexdigit())
            };
            if [
                &secrets.api_key,
                &secrets.redis_password,
                &secrets.mongodb_password,
            ]
            .iter()
            .all(|secret| well_formed(secret))
            {
                Ok(Some(secrets))
            } else {
                Err(failed("use")(
                    &"a secret in it is not 32 hexadecimal digits (was it edited?)",
                ))
            }
        };
        if let Some(secrets) = load()? {
            return Ok(secrets);
        }
        let token = || random_token().map_err(|e| failed("make a secret for")(&e));
        let secrets = Secrets {
            api_key: token()?,
            redis_password: token()?,
            mongodb_password: token()?,
        };
        let text = serde_json::to_string_pretty(&secrets).expect("the secrets are plain data");
        if create_private(&path, text.as_bytes()).map_err(|e| failed("write")(&e))? {
            Ok(secrets)
        } else {
            // Another `lab` command made them at the same moment: theirs count.
            load()?.ok_or_else(|| failed("read")(&"it vanished while being made"))
        }
    }

    /// The API key, as the API checks it (refused if the file was edited
    /// to hold something that is no key).
    pub fn api_key(&self, config: &Config) -> Result<crate::config::ApiKey, SecretsError> {
        crate::config::ApiKey::parse(self.api_key.clone()).map_err(|error| SecretsError {
            action: "use the API key in",
            path: config.home.join("secrets.json").display().to_string(),
            reason: error.reason.to_owned(),
        })
    }

    /// How the lab logs in to the MongoDB server it starts.
    pub fn mongodb_credentials(&self) -> Credentials {
        Credentials {
            user: MONGODB_USER.to_owned(),
            password: self.mongodb_password.clone(),
        }
    }
}

/// The key the served API asks of writes: `LAB_API_KEY` when set, else the
/// one `lab up` made.
pub fn api_key(config: &Config) -> Result<crate::config::ApiKey, SecretsError> {
    match &config.api_key {
        Some(key) => Ok(key.clone()),
        None => Secrets::load_or_create(config)?.api_key(config),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secrets_are_made_once_kept_private_and_read_back() {
        let home = std::env::temp_dir().join(format!("lab-secrets-{}", std::process::id()));
        let config = Config::for_home(&home, Vec::new());
        let first = Secrets::load_or_create(&config).unwrap();
        let second = Secrets::load_or_create(&config).unwrap();
        assert_eq!(first, second, "a second `up` must reuse the passwords");
        assert_ne!(first.api_key, first.redis_password);
        let mode = std::fs::metadata(home.join("secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(format!("{first:?}"), "Secrets { .. }");
        std::fs::remove_dir_all(home).unwrap();
    }
}
