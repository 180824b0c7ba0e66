//! The last known good config: after a successful start or reload the
//! config text is saved, and at the next start it runs if the file has
//! become invalid, so a bad edit never takes a director down.

use std::path::{Path, PathBuf};

pub struct LastGood {
    path: PathBuf,
}

impl LastGood {
    pub fn in_dir(dir: &Path) -> Self {
        LastGood {
            path: dir.join("last-good.toml"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> Option<String> {
        std::fs::read_to_string(&self.path).ok()
    }

    /// Saves atomically: a crash mid-write leaves the previous copy.
    pub fn save(&self, text: &str) -> Result<(), String> {
        if self.load().as_deref() == Some(text) {
            return Ok(());
        }
        super::store::write_atomic(&self.path, text.as_bytes()).map_err(|e| {
            format!("could not save the last good config ({e}); the copy on disk is the one before")
        })
    }
}
