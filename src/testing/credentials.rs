//! The password and MongoDB user of every server the harness starts.

/// The password of every server the harness starts, as `lab up` gives its
/// servers one: made once per test binary, so a server restarted on a
/// killed one's store accepts it.
pub(crate) fn harness_password() -> &'static str {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD.get_or_init(|| {
        crate::services::secret::random_token().expect("the system's random source is readable")
    })
}

/// The MongoDB user of the harness's servers.
pub(crate) fn harness_credentials() -> crate::services::mongo_server::Credentials {
    crate::services::mongo_server::Credentials {
        user: crate::running::secrets::MONGODB_USER.to_owned(),
        password: harness_password().to_owned(),
    }
}
