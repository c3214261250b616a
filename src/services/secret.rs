//! The secrets the lab makes for itself (passwords, keys, tokens), and
//! files only their owner may read.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// 32 hexadecimal digits (128 bits) from the system's random source: safe in
/// a URL, a header and a command's configuration file alike.
pub fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut bytes))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Writes `contents` to `path` so that only the file's owner can read it
/// (mode 0600), atomically: a reader sees the old file or the new one, and
/// the secret is never in a file others can read, not even for a moment.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temporary = private_draft(path, contents)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Like [`write_private`], but only if `path` does not exist yet: `false`
/// (and nothing written) when another writer got there first, so two
/// processes creating the same secret at once end up agreeing on one.
pub fn create_private(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    let temporary = private_draft(path, contents)?;
    // A hard link, unlike a rename, refuses to replace an existing file.
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

/// `contents` in a new file of mode 0600 beside `path`, under a name no
/// other writer uses (pid and a random part), flushed to disk.
fn private_draft(path: &Path, contents: &[u8]) -> std::io::Result<std::path::PathBuf> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        &random_token()?[..8]
    ));
    let temporary = std::path::PathBuf::from(temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })?;
    Ok(temporary)
}

/// Whether two secrets are equal, in a time that does not depend on where
/// they first differ (so a client cannot guess a key a byte at a time).
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn tokens_are_32_hex_digits_and_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_private_file_is_readable_by_its_owner_only_even_when_replaced() {
        let dir = std::env::temp_dir().join(format!("lab-secret-{}", std::process::id()));
        let path = dir.join("key.json");
        write_private(&path, b"one").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"two").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_private_file_is_created_once_and_never_replaced() {
        let dir = std::env::temp_dir().join(format!("lab-create-{}", std::process::id()));
        let path = dir.join("secrets.json");
        assert!(create_private(&path, b"first").unwrap());
        assert!(!create_private(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no draft is left behind");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn secrets_compare_equal_only_when_every_byte_is() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }
}
