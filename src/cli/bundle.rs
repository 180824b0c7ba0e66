//! `pharos bundle` (hidden; for the image build and its tests): makes the
//! signing key pair, signs a slot image into an update bundle, and checks a
//! bundle as a box would. The format is `crate::upgrade::bundle`'s.
//!
//! Exit codes of `verify`: 0 the bundle is good, 1 it is refused, 2 the
//! bundle or the key cannot be read.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::upgrade::{bundle, keys};

use super::out::{errln, outln};

/// The CPU the image is built for (the bundle's `arch`).
const IMAGE_ARCH: &str = "x86_64";

#[derive(clap::Subcommand)]
pub enum BundleCommand {
    /// Make a signing key pair in DIR: bundle-signing.key (private, 0600) and bundle-signing.pub.
    Keygen {
        /// The folder to write the keys into (created if missing; an existing key is never replaced).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Sign a slot image into an update bundle.
    Make {
        /// The slot's FAT image (the bundle's payload, without its trailing zeros: free space the box need not write).
        #[arg(long)]
        image: PathBuf,
        /// The version of pharos in the image (default: this pharos's).
        #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
        version: String,
        /// The release of the image's kernel.
        #[arg(long)]
        kernel: String,
        /// Which image this is.
        #[arg(long, value_enum)]
        variant: Variant,
        /// When the image was built, in Unix seconds (default: $SOURCE_DATE_EPOCH, else 0).
        #[arg(long)]
        built: Option<u64>,
        /// The private key (bundle-signing.key, or one from `openssl genpkey -algorithm ed25519`).
        #[arg(long)]
        key: PathBuf,
        /// The bundle to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a bundle as a box would: its signature against KEY, then its image's hash. Exit 0: good, 1: refused, 2: unreadable.
    Verify {
        /// The bundle.
        file: PathBuf,
        /// The public key (bundle-signing.pub).
        #[arg(long)]
        key: PathBuf,
    },
}

/// `prod` or `debug`: the manifest's `variant`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// The production image.
    Prod,
    /// The debug image (the fault switch, a shell).
    Debug,
}

impl Variant {
    fn as_str(self) -> &'static str {
        match self {
            Variant::Prod => "prod",
            Variant::Debug => "debug",
        }
    }
}

pub fn run(command: BundleCommand) -> ExitCode {
    match command {
        BundleCommand::Keygen { dir } => match keys::generate(&dir) {
            Ok((private, public)) => {
                outln!("{}", private.display());
                outln!("{}", public.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(1, &format!("pharos bundle keygen: {e}")),
        },
        BundleCommand::Make {
            image,
            version,
            kernel,
            variant,
            built,
            key,
            out,
        } => {
            let built = match built.map(Ok).unwrap_or_else(source_date_epoch) {
                Ok(b) => b,
                Err(e) => return fail(2, &format!("pharos bundle make: {e}")),
            };
            match make(&image, &version, &kernel, variant, built, &key, &out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(1, &format!("pharos bundle make: {e}")),
            }
        }
        BundleCommand::Verify { file, key } => verify(&file, &key),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    errln!("{message}");
    ExitCode::from(code)
}

/// $SOURCE_DATE_EPOCH (reproducible-builds.org's), or 0 if unset.
fn source_date_epoch() -> Result<u64, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(0),
        Ok(s) => s.trim().parse().map_err(|_| {
            format!("SOURCE_DATE_EPOCH is {s:?}, not Unix seconds; set it right or give --built")
        }),
    }
}

fn make(
    image_path: &Path,
    version: &str,
    kernel: &str,
    variant: Variant,
    built: u64,
    key_path: &Path,
    out: &Path,
) -> Result<(), String> {
    let key = keys::load_signing(key_path)?;
    let mut image = std::fs::read(image_path)
        .map_err(|e| format!("cannot read the image {}: {e}", image_path.display()))?;
    // A slot's FAT fills its files from the front; the zeros after the last
    // of them are free space (the box writes the image at the start of the
    // partition and leaves the rest): a 64 MiB slot travels as its ~22 MiB.
    let used = image.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    image.truncate(used.div_ceil(512) * 512);
    let manifest =
        bundle::manifest_for(&image, version, IMAGE_ARCH, variant.as_str(), kernel, built);
    // Beside the target, then renamed: a reader never sees half a bundle.
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = File::create(&partial).and_then(|f| {
        let mut w = BufWriter::new(f);
        bundle::write_bundle(&mut w, &manifest, &image, &key)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&partial, out)) {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("cannot write the bundle {}: {e}", out.display()));
    }
    Ok(())
}

fn verify(path: &Path, key_path: &Path) -> ExitCode {
    let key = match keys::load_verifying(key_path) {
        Ok(k) => k,
        Err(e) => return fail(2, &format!("pharos bundle verify: {e}")),
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            return fail(
                2,
                &format!("pharos bundle verify: cannot open {}: {e}", path.display()),
            );
        }
    };
    // No slot here: the file's own length bounds the image.
    let max = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let mut verifier = bundle::Verifier::new(key, std::env::consts::ARCH, max);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return fail(
                    2,
                    &format!("pharos bundle verify: cannot read {}: {e}", path.display()),
                );
            }
        };
        if let Err(e) = verifier.feed(&buf[..n]) {
            return refused(path, &e);
        }
    }
    match verifier.finish() {
        Ok(verified) => {
            let json =
                serde_json::to_string_pretty(&verified.manifest).expect("a manifest serializes");
            outln!("{json}");
            outln!("signature and image hash verified");
            ExitCode::SUCCESS
        }
        Err(e) => refused(path, &e),
    }
}

fn refused(path: &Path, e: &bundle::BundleError) -> ExitCode {
    fail(1, &format!("pharos bundle verify: {}: {e}", path.display()))
}
