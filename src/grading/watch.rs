//! `lab watch`: noticing which exercise file a student just saved.
//!
//! Polling modification times twice a second is plenty for a person typing,
//! and needs no file-system notification library.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use super::catalog::Catalog;

/// Remembers when each exercise file last changed.
#[derive(Debug)]
pub struct Watcher {
    seen: HashMap<String, Option<SystemTime>>,
    files: Vec<(String, PathBuf)>,
}

impl Watcher {
    /// Starts watching every exercise of `catalog`; nothing counts as changed yet.
    pub fn new(catalog: &Catalog) -> Watcher {
        let files: Vec<(String, PathBuf)> = catalog
            .exercises
            .iter()
            .map(|exercise| (exercise.id.clone(), exercise.exercise_file(&catalog.root)))
            .collect();
        let seen = files
            .iter()
            .map(|(id, path)| (id.clone(), modified(path)))
            .collect();
        Watcher { seen, files }
    }

    /// The ids of exercises whose files changed since the last call.
    pub fn changed(&mut self) -> Vec<String> {
        let mut changed = Vec::new();
        for (id, path) in &self.files {
            let now = modified(path);
            if self.seen.get(id) != Some(&now) {
                self.seen.insert(id.clone(), now);
                changed.push(id.clone());
            }
        }
        changed
    }
}

fn modified(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_saved_file_is_reported_once() {
        let root = std::env::temp_dir().join(format!("lab-watch-{}", std::process::id()));
        let file = root.join("exercises/src/redis/strings.rs");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "// start").unwrap();
        let catalog = Catalog::parse(
            Path::new(&root),
            r#"[[exercise]]
            id = "redis-strings"
            title = "t"
            lesson = "l"
            file = "redis/strings.rs"
            hints = ["h"]
            tests = [{ name = "a", points = 1 }]"#,
        )
        .unwrap();
        let mut watcher = Watcher::new(&catalog);
        assert!(watcher.changed().is_empty());
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(watcher.changed(), ["redis-strings"]);
        assert!(watcher.changed().is_empty());
        let _ = std::fs::remove_dir_all(root);
    }
}
