//! The last known good config: after a successful start or reload the
//! config text is saved, and at the next start it runs if the file has
//! become invalid, so a bad edit never takes a director down.

use std::io::Write;
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
        let what = |e: std::io::Error| {
            format!(
                "saving the last good config to {}: {e}",
                self.path.display()
            )
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(what)?;
        }
        if self.load().as_deref() == Some(text) {
            return Ok(());
        }
        let tmp = self.path.with_extension("toml.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(what)?;
        f.write_all(text.as_bytes()).map_err(what)?;
        f.sync_all().map_err(what)?;
        std::fs::rename(&tmp, &self.path).map_err(what)
    }
}
