//! The appliance disk's two boot slots and GRUB's choice between them
//! (the layout is image/build.sh's: p1 `PHAROS-BOOT` holds GRUB and
//! `/grub/grubenv`, p2 is slot A, p3 slot B, p4 `PHAROS-CFG`).
//!
//! Owns: which slot this boot came from (GRUB puts `pharos.slot=A|B` and
//! `pharos.trial=0|1` on the kernel command line), writing a slot's
//! partition and reading it back from the disk, and the two grubenv
//! variables pharos drives:
//! - `pharos_slot`: the committed slot, the one GRUB boots;
//! - `pharos_try`: a slot to boot once. GRUB clears it *before* booting
//!   that slot, so a trial that panics, hangs (the watchdog resets it) or
//!   is reset comes back on the committed slot.
//!
//! Whom it talks to: the block devices under /dev and /sys/class/block,
//! and the kernel's vfat driver (p1 is mounted only while grubenv is
//! written: overwritten in place, 1024 bytes, so GRUB's `save_env` finds
//! it where it was).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::grubenv::GrubEnv;

/// The boot partition's FAT label (image/build.sh).
pub const BOOT_LABEL: &str = "PHAROS-BOOT";
/// Where p1 is mounted while grubenv is written.
const BOOT_MOUNT: &str = "/run/pharos/boot";
const GRUBENV: &str = "grub/grubenv";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// Its partition number on the disk.
    pub fn partition(self) -> u32 {
        match self {
            Slot::A => 2,
            Slot::B => 3,
        }
    }

    pub fn parse(s: &str) -> Option<Slot> {
        match s {
            "A" => Some(Slot::A),
            "B" => Some(Slot::B),
            _ => None,
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

/// How this boot came up, from the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boot {
    pub slot: Slot,
    /// Booted once through `pharos_try`: not committed yet.
    pub trial: bool,
}

/// `pharos.slot=` and `pharos.trial=` of a kernel command line; `None` when
/// the box was not booted by the image's GRUB (a direct kernel boot, an
/// older image, the Debian package).
pub fn boot_from_cmdline(cmdline: &str) -> Option<Boot> {
    let mut slot = None;
    let mut trial = false;
    for w in cmdline.split_whitespace() {
        if let Some(s) = w.strip_prefix("pharos.slot=") {
            slot = Slot::parse(s);
        } else if let Some(t) = w.strip_prefix("pharos.trial=") {
            trial = t == "1";
        }
    }
    slot.map(|slot| Boot { slot, trial })
}

/// The disk's partitions as block devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// p1, `PHAROS-BOOT`.
    pub boot: PathBuf,
    pub a: PathBuf,
    pub b: PathBuf,
}

impl Disk {
    pub fn slot(&self, s: Slot) -> &Path {
        match s {
            Slot::A => &self.a,
            Slot::B => &self.b,
        }
    }

    /// Finds the partition labelled `PHAROS-BOOT` and its disk's partitions
    /// 2 and 3.
    pub fn find() -> Result<Disk, String> {
        let boot = crate::init::find_by_fat_label(BOOT_LABEL).ok_or_else(|| {
            format!("no partition labelled {BOOT_LABEL}: this box was not booted from the pharos image's disk")
        })?;
        let name = boot
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // /sys/class/block/vda1 → …/block/vda/vda1: the disk is its parent.
        let real = std::fs::canonicalize(Path::new("/sys/class/block").join(&name))
            .map_err(|e| format!("reading /sys/class/block/{name}: {e}"))?;
        let disk = real
            .parent()
            .ok_or_else(|| format!("{} has no parent disk", real.display()))?;
        let part = |n: u32| -> Result<PathBuf, String> {
            let entries =
                std::fs::read_dir(disk).map_err(|e| format!("reading {}: {e}", disk.display()))?;
            for e in entries.flatten() {
                let number =
                    std::fs::read_to_string(e.path().join("partition")).unwrap_or_default();
                if number.trim() == n.to_string() {
                    return Ok(PathBuf::from("/dev").join(e.file_name()));
                }
            }
            Err(format!(
                "the disk {} has no partition {n}: its layout is not the A/B image's; \
                 reflash it with an image of this version",
                disk.display()
            ))
        };
        Ok(Disk {
            boot: part(1)?,
            a: part(Slot::A.partition())?,
            b: part(Slot::B.partition())?,
        })
    }
}

/// A partition's size in bytes, from sysfs.
pub fn partition_size(dev: &Path) -> Result<u64, String> {
    let name = dev
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = Path::new("/sys/class/block").join(&name).join("size");
    let sectors: u64 = std::fs::read_to_string(&path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(sectors * 512)
}

/// Writes `image` at the start of the partition `dev`, syncs it, drops it
/// from the page cache and reads it back from the disk: the slot is
/// trusted only if what is on the disk hashes as the bundle said.
pub fn write_slot(dev: &Path, image: &[u8]) -> Result<(), String> {
    let size = partition_size(dev)?;
    if image.len() as u64 > size {
        return Err(format!(
            "the slot image is {} bytes, the partition {} only {size}; this bundle needs a disk \
             with bigger slots (reflash with the new image)",
            image.len(),
            dev.display()
        ));
    }
    let what = |doing: &str, e: std::io::Error| format!("{doing} {}: {e}", dev.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .map_err(|e| what("opening", e))?;
    for chunk in image.chunks(1 << 20) {
        f.write_all(chunk).map_err(|e| what("writing", e))?;
    }
    f.sync_all().map_err(|e| what("syncing", e))?;
    drop(f);
    let mut f = std::fs::File::open(dev).map_err(|e| what("opening", e))?;
    // The pages just written are clean now; dropping them makes the read
    // below come from the disk, not from memory.
    nix::fcntl::posix_fadvise(
        &f,
        0,
        0,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
    )
    .map_err(|e| format!("dropping the page cache of {}: {e}", dev.display()))?;
    let want = sha2::Sha256::digest(image);
    let mut h = sha2::Sha256::new();
    let mut left = image.len();
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len());
        f.read_exact(&mut buf[..n])
            .map_err(|e| what("reading back", e))?;
        h.update(&buf[..n]);
        left -= n;
    }
    if h.finalize() != want {
        return Err(format!(
            "slot {} reads back differently from what was written: the disk is failing",
            dev.display()
        ));
    }
    Ok(())
}

/// Reads GRUB's environment block from the boot partition.
pub fn read_env(disk: &Disk) -> Result<GrubEnv, String> {
    with_boot(disk, |path| {
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        super::grubenv::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    })
}

/// Changes GRUB's environment block: read, `change`, written back over the
/// same 1024 bytes and synced. Returns the block as written.
pub fn update_env(disk: &Disk, change: impl FnOnce(&mut GrubEnv)) -> Result<GrubEnv, String> {
    with_boot(disk, |path| {
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let mut env =
            super::grubenv::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        change(&mut env);
        let block = env
            .encode()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // In place, never truncated: GRUB's save_env writes to the blocks
        // the file has.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        f.write_all(&block)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(env)
    })
}

fn with_boot<T>(disk: &Disk, f: impl FnOnce(&Path) -> Result<T, String>) -> Result<T, String> {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    std::fs::create_dir_all(BOOT_MOUNT).map_err(|e| format!("creating {BOOT_MOUNT}: {e}"))?;
    mount(
        Some(disk.boot.as_path()),
        BOOT_MOUNT,
        Some("vfat"),
        MsFlags::MS_NOATIME | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| {
        format!(
            "mounting {} ({BOOT_LABEL}) on {BOOT_MOUNT}: {e}",
            disk.boot.display()
        )
    })?;
    let r = f(&Path::new(BOOT_MOUNT).join(GRUBENV));
    if let Err(e) = umount2(BOOT_MOUNT, MntFlags::empty()) {
        return Err(format!("unmounting {BOOT_MOUNT}: {e}"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grubs_command_line_names_the_slot_and_the_trial() {
        let c = "console=ttyS0 panic=-1 pharos.slot=B pharos.trial=1 quiet";
        assert_eq!(
            boot_from_cmdline(c),
            Some(Boot {
                slot: Slot::B,
                trial: true
            })
        );
        let c = "pharos.slot=A pharos.trial=0";
        assert_eq!(
            boot_from_cmdline(c),
            Some(Boot {
                slot: Slot::A,
                trial: false
            })
        );
        assert_eq!(boot_from_cmdline("console=ttyS0 pharos.trial=1"), None);
        assert_eq!(boot_from_cmdline("pharos.slot=C"), None);
    }

    #[test]
    fn slots_sit_on_partitions_two_and_three() {
        assert_eq!(Slot::A.partition(), 2);
        assert_eq!(Slot::B.partition(), 3);
        assert_eq!(Slot::A.other(), Slot::B);
        assert_eq!(Slot::parse(&Slot::B.to_string()), Some(Slot::B));
    }
}
