//! Secure Boot on a stick's ESP (docs/secure-boot.md): the user's signing key, kept in the
//! user's config directory and made on first use ([`UserKey`]); the files the ESP holds in
//! each [`Mode`] ([`esp_files`]: Debian's Microsoft-signed shim as `BOOTX64.EFI`,
//! MokManager beside it, bootshelf's loader signed with the user's key as shim's second
//! stage `grubx64.efi`, the user's certificate for MokManager's "Enroll key from disk");
//! and what `check` says about the loader on a stick ([`inspect_esp`]).
//!
//! The private key never goes on a stick: only the signed loader and the certificate do.

use crate::bootcode::SecureEsp;
use crate::esp;
use crate::layout::{Error, Result};
use authenticode::sign::{self, PrivateKey};
pub use authenticode::sign::{Certificate, Signed};
use std::path::{Path, PathBuf};

/// shim's second stage on the ESP: shim starts `grubx64.efi` from its own directory.
pub const SECOND_STAGE_PATH: &str = "EFI/BOOT/grubx64.efi";
/// MokManager on the ESP, where shim looks for it.
pub const MOK_MANAGER_PATH: &str = "EFI/BOOT/mmx64.efi";
/// The user's certificate (DER) on the ESP, at the root where MokManager's "Enroll key
/// from disk" opens first.
pub const CERT_PATH: &str = "ENROLL-THIS-bootshelf-key.cer";

/// Debian's Microsoft-signed shim (package `shim-signed`).
pub const SHIM_SOURCE: &str = "/usr/lib/shim/shimx64.efi.signed";
/// Debian-signed MokManager (package `shim-helpers-amd64-signed`).
pub const MOK_MANAGER_SOURCE: &str = "/usr/lib/shim/mmx64.efi.signed";

/// Key file names in the key directory.
const KEY_FILE: &str = "signing-key.pem";
const CERT_FILE: &str = "signing-cert.pem";

/// How the ESP boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// bootshelf's unsigned loader as `BOOTX64.EFI` (`--no-secure-boot`).
    Plain,
    /// shim (Microsoft-signed) -> bootshelf's loader signed with the user's key, enrolled
    /// once per machine in MokManager. The default.
    Shim,
    /// bootshelf's loader signed with the user's key as `BOOTX64.EFI`, for machines whose
    /// firmware db already holds that key (`--own-keys`).
    OwnKeys,
}

impl Mode {
    /// Its name in `--json` output: `plain`, `shim`, `own_keys`.
    pub fn json_name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Shim => "shim",
            Mode::OwnKeys => "own_keys",
        }
    }

    /// How `check`, `install` and BOOTSHELF.TXT name the mode.
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Plain => "plain (unsigned bootshelf loader; Secure Boot must be off)",
            Mode::Shim => "Secure Boot via shim (Microsoft-signed shim, bootshelf loader signed with your key)",
            Mode::OwnKeys => "Secure Boot with own keys (bootshelf loader signed with your key, no shim)",
        }
    }
}

/// The user's signing key and certificate.
pub struct UserKey {
    /// The RSA private key (stays in the config directory).
    pub key: PrivateKey,
    /// Its certificate.
    pub cert: Certificate,
    /// The certificate in DER, as it goes on the ESP.
    pub cert_der: Vec<u8>,
    /// Where the key was read from.
    pub key_path: PathBuf,
    /// Where the certificate was read from.
    pub cert_path: PathBuf,
    /// Whether this run made the key.
    pub created: bool,
}

fn key_err(what: impl std::fmt::Display) -> Error {
    Error::SecureBoot(what.to_string())
}

impl UserKey {
    /// The key directory: `$XDG_CONFIG_HOME/bootshelf/secure-boot`, else
    /// `$HOME/.config/bootshelf/secure-boot`.
    pub fn default_dir() -> Result<PathBuf> {
        let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(home) => PathBuf::from(home).join(".config"),
                None => {
                    return Err(key_err(
                        "neither XDG_CONFIG_HOME nor HOME is set, so there is no config \
                         directory for the signing key; set one, or give --key and --cert, \
                         or use --no-secure-boot",
                    ))
                }
            },
        };
        Ok(config.join("bootshelf").join("secure-boot"))
    }

    /// The certificate of the key in [`UserKey::default_dir`], when one was made.
    pub fn default_cert() -> Option<PathBuf> {
        let cert = Self::default_dir().ok()?.join(CERT_FILE);
        cert.exists().then_some(cert)
    }

    /// The key in `dir`, made there first when it has none (RSA-2048, self-signed, named
    /// after the user and the machine). Made in a temporary directory and renamed into
    /// place, so two commands racing on the first use end up with one key.
    pub fn load_or_create(dir: &Path) -> Result<UserKey> {
        if dir.join(KEY_FILE).exists() {
            return Self::load(&dir.join(KEY_FILE), &dir.join(CERT_FILE));
        }
        let parent = dir
            .parent()
            .ok_or_else(|| key_err("the key directory has no parent"))?;
        std::fs::create_dir_all(parent)
            .map_err(|e| key_err(format!("cannot create {}: {e}", parent.display())))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = format!("bootshelf Secure Boot key of {}", owner_name());
        let (key, cert) = sign::new_signing_key(&name, now).map_err(key_err)?;
        let tmp = parent.join(format!(".secure-boot.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
            std::fs::DirBuilder::new().mode(0o700).create(&tmp)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(tmp.join(KEY_FILE))?;
            std::io::Write::write_all(
                &mut f,
                sign::key_to_pem(&key)
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                    .as_bytes(),
            )?;
            f.sync_all()?;
            let pem = sign::cert_to_pem(&cert).map_err(|e| std::io::Error::other(e.to_string()))?;
            std::fs::write(tmp.join(CERT_FILE), pem)?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(key_err(format!(
                "cannot write the new key in {}: {e}",
                parent.display()
            )));
        }
        let created = match std::fs::rename(&tmp, dir) {
            Ok(()) => true,
            Err(_) if dir.join(KEY_FILE).exists() => {
                // Another command made it first: use that one.
                let _ = std::fs::remove_dir_all(&tmp);
                false
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(key_err(format!("cannot create {}: {e}", dir.display())));
            }
        };
        let mut k = Self::load(&dir.join(KEY_FILE), &dir.join(CERT_FILE))?;
        k.created = created;
        Ok(k)
    }

    /// A key and certificate from files (PEM or DER), as `--key` and `--cert` give them.
    pub fn load(key_path: &Path, cert_path: &Path) -> Result<UserKey> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| key_err(format!("cannot read {}: {e}", p.display())))
        };
        let key = sign::key_from_bytes(&read(key_path)?)
            .map_err(|e| key_err(format!("{}: {e}", key_path.display())))?;
        let cert = Self::load_cert(cert_path)?;
        if !sign::cert_matches_key(&cert, &key) {
            return Err(key_err(format!(
                "the certificate {} is not the one of the key {}; give the matching pair",
                cert_path.display(),
                key_path.display()
            )));
        }
        let cert_der = sign::cert_to_der(&cert).map_err(key_err)?;
        Ok(UserKey {
            key,
            cert,
            cert_der,
            key_path: key_path.to_owned(),
            cert_path: cert_path.to_owned(),
            created: false,
        })
    }

    /// A certificate alone (PEM or DER): what `check --cert` compares with.
    pub fn load_cert(cert_path: &Path) -> Result<Certificate> {
        let bytes = std::fs::read(cert_path)
            .map_err(|e| key_err(format!("cannot read {}: {e}", cert_path.display())))?;
        sign::cert_from_bytes(&bytes).map_err(|e| {
            key_err(format!(
                "{} is not an X.509 certificate: {e}",
                cert_path.display()
            ))
        })
    }

    /// The certificate's subject.
    pub fn subject(&self) -> String {
        sign::cert_subject(&self.cert)
    }
}

/// `user@host` for the certificate's name.
fn owner_name() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// Debian's shim and MokManager as installed on this machine, with their package versions.
pub struct ShimFiles {
    /// `shimx64.efi.signed`.
    pub shim: Vec<u8>,
    /// `mmx64.efi.signed`.
    pub mok_manager: Vec<u8>,
    /// "shim-signed 1.51..., shim-helpers-amd64-signed 1+16.1..." (empty versions when
    /// dpkg does not know them).
    pub versions: String,
}

impl ShimFiles {
    /// Reads them from the installed Debian packages.
    pub fn from_system() -> Result<ShimFiles> {
        let read = |path: &str, package: &str| {
            std::fs::read(path).map_err(|e| {
                key_err(format!(
                    "cannot read {path} ({e}): install the Debian package {package} \
                     (apt-get install {package}), or use --no-secure-boot"
                ))
            })
        };
        let shim = read(SHIM_SOURCE, "shim-signed")?;
        let mok_manager = read(MOK_MANAGER_SOURCE, "shim-helpers-amd64-signed")?;
        let versions = ["shim-signed", "shim-helpers-amd64-signed"]
            .iter()
            .map(|p| format!("{p} {}", package_version(p)))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(ShimFiles {
            shim,
            mok_manager,
            versions,
        })
    }
}

/// The header line every `.sbat` section starts with (shim's SBAT.md).
const SBAT_HEADER: &[u8] = b"sbat,1,SBAT Version,";

/// The version a shim or MokManager binary gives in its `.sbat` section's vendor line
/// (`shim.debian,1,Debian,shim,16.1,https://...` -> `16.1`: the upstream shim release the
/// distribution built), `None` when it has no such line. Read from the bytes (the section
/// is plain text ending in a NUL), so a signed and an unsigned build give the same answer.
pub fn shim_version(image: &[u8]) -> Option<String> {
    let at = image
        .windows(SBAT_HEADER.len())
        .position(|w| w == SBAT_HEADER)?;
    let text = &image[at..image.len().min(at + 4096)];
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let text = std::str::from_utf8(text).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(',').collect();
        // component_name.vendor, generation, vendor name, package, version, url
        (fields.len() >= 5 && fields[0].contains('.') && !fields[4].is_empty())
            .then(|| fields[4].trim().to_string())
    })
}

/// Orders two dotted version numbers (`15.7` < `15.8` < `16.1`); `None` when either is
/// not one.
pub fn compare_versions(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    let parse = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|n| n.parse().ok()).collect() };
    Some(parse(a)?.cmp(&parse(b)?))
}

/// The installed version of a Debian package, or "(version unknown)".
fn package_version(package: &str) -> String {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|| "(version unknown)".into())
}

/// What the ESP holds for `mode`: every path Secure Boot manages, with empty contents for
/// those the mode does not use (so `update` removes them when switching modes), in the
/// order `update` replaces them (`BOOTX64.EFI` first when it stops needing the others,
/// last when it starts needing them), plus text for BOOTSHELF.TXT.
pub fn esp_files(
    loader: &[u8],
    mode: Mode,
    key: Option<&UserKey>,
    shim: Option<&ShimFiles>,
) -> Result<SecureEsp> {
    let signed = || -> Result<(Vec<u8>, &UserKey)> {
        let key = key.ok_or(Error::Internal("Secure Boot mode without a key"))?;
        let signed = sign::sign(loader, &key.key, &key.cert)
            .map_err(|e| key_err(format!("signing the UEFI loader: {e}")))?;
        Ok((signed, key))
    };
    let mut info = format!("UEFI boot: {}.\r\n", mode.describe());
    let files = match mode {
        Mode::Plain => vec![
            (esp::LOADER_PATH, loader.to_vec()),
            (SECOND_STAGE_PATH, Vec::new()),
            (MOK_MANAGER_PATH, Vec::new()),
            (CERT_PATH, Vec::new()),
        ],
        Mode::Shim => {
            let shim = shim.ok_or(Error::Internal("shim mode without shim files"))?;
            let (signed, key) = signed()?;
            info.push_str(&format!(
                "\\EFI\\BOOT\\BOOTX64.EFI is shim and \\EFI\\BOOT\\mmx64.efi MokManager ({});\r\n\
                 \\EFI\\BOOT\\grubx64.efi is the bootshelf loader signed by \"{}\".\r\n\
                 On a machine with Secure Boot on, enroll \\{CERT_PATH} once in MokManager\r\n\
                 (Enroll key from disk); every stick signed with the same key then boots.\r\n",
                shim.versions,
                key.subject()
            ));
            // BOOTX64.EFI last: an update killed half-way leaves the old loader or a
            // shim whose second stage is already there.
            vec![
                (SECOND_STAGE_PATH, signed),
                (MOK_MANAGER_PATH, shim.mok_manager.clone()),
                (CERT_PATH, key.cert_der.clone()),
                (esp::LOADER_PATH, shim.shim.clone()),
            ]
        }
        Mode::OwnKeys => {
            let (signed, key) = signed()?;
            info.push_str(&format!(
                "\\EFI\\BOOT\\BOOTX64.EFI is the bootshelf loader signed by \"{}\";\r\n\
                 the firmware's db must hold \\{CERT_PATH}.\r\n",
                key.subject()
            ));
            vec![
                (esp::LOADER_PATH, signed),
                (SECOND_STAGE_PATH, Vec::new()),
                (MOK_MANAGER_PATH, Vec::new()),
                (CERT_PATH, key.cert_der.clone()),
            ]
        }
    };
    Ok(SecureEsp { files, info })
}

/// Which loader a stick's ESP holds, and who signed bootshelf's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspLoader {
    /// The mode the files say.
    pub mode: Option<Mode>,
    /// The ESP file bootshelf's loader is in (`None`: not found).
    pub loader_path: Option<&'static str>,
    /// Who signed bootshelf's loader, judged against the certificate given.
    pub signed: Option<Signed>,
}

/// Reads the ESP image's loader files; `cert` is the certificate the loader should be
/// signed with (the user's current one).
pub fn inspect_esp(img: &mut [u8], cert: Option<&Certificate>) -> Result<EspLoader> {
    let boot = esp::read_image_file(img, esp::LOADER_PATH)?;
    let second = esp::read_image_file(img, SECOND_STAGE_PATH)?;
    let (mode, loader_path, loader) = match (boot, second) {
        (Some(_), Some(second)) => (Some(Mode::Shim), Some(SECOND_STAGE_PATH), Some(second)),
        (Some(boot), None) => {
            let signed = authenticode::PeImage::parse(&boot).is_ok_and(|p| p.is_signed());
            let mode = if signed { Mode::OwnKeys } else { Mode::Plain };
            (Some(mode), Some(esp::LOADER_PATH), Some(boot))
        }
        _ => (None, None, None),
    };
    let signed = match (loader, cert) {
        (Some(loader), Some(cert)) => Some(
            sign::verify(&loader, cert)
                .map_err(|e| key_err(format!("reading the loader's signature: {e}")))?,
        ),
        _ => None,
    };
    Ok(EspLoader {
        mode,
        loader_path,
        signed,
    })
}

/// A certificate in DER.
pub fn cert_der(cert: &Certificate) -> Result<Vec<u8>> {
    sign::cert_to_der(cert).map_err(key_err)
}

/// A certificate's subject, as text.
pub fn cert_subject(cert: &Certificate) -> String {
    sign::cert_subject(cert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// First use makes the key (private file 0600 in a 0700 directory); the second use
    /// loads the same one; the ESP files of each mode are the documented set, the ones a
    /// mode does not use given empty so that `update` removes them.
    #[test]
    fn key_is_made_once_and_modes_give_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("bootshelf/secure-boot");
        let first = UserKey::load_or_create(&keys).unwrap();
        assert!(first.created);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&keys.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&keys), 0o700);
        let again = UserKey::load_or_create(&keys).unwrap();
        assert!(!again.created);
        assert_eq!(again.cert_der, first.cert_der);

        let loader = loaders_stub();
        let shim = ShimFiles {
            shim: b"shim".to_vec(),
            mok_manager: b"mm".to_vec(),
            versions: "test".into(),
        };
        let names = |e: &SecureEsp| -> Vec<(&str, bool)> {
            e.files.iter().map(|(p, b)| (*p, !b.is_empty())).collect()
        };
        let s = esp_files(&loader, Mode::Shim, Some(&first), Some(&shim)).unwrap();
        assert_eq!(
            names(&s),
            [
                (SECOND_STAGE_PATH, true),
                (MOK_MANAGER_PATH, true),
                (CERT_PATH, true),
                (esp::LOADER_PATH, true)
            ]
        );
        assert_eq!(s.files[3].1, b"shim");
        let signed = &s.files[0].1;
        assert_eq!(
            sign::verify(signed, &first.cert).unwrap(),
            Signed::ByCertificate
        );
        let o = esp_files(&loader, Mode::OwnKeys, Some(&first), None).unwrap();
        assert_eq!(
            names(&o),
            [
                (esp::LOADER_PATH, true),
                (SECOND_STAGE_PATH, false),
                (MOK_MANAGER_PATH, false),
                (CERT_PATH, true)
            ]
        );
        assert_eq!(&o.files[0].1, signed);
        let p = esp_files(&loader, Mode::Plain, None, None).unwrap();
        assert_eq!(p.files[0].1, loader);
        assert!(p.files[1..].iter().all(|(_, b)| b.is_empty()));
        // A mode that signs without a key is a bug, reported as one.
        assert!(matches!(
            esp_files(&loader, Mode::OwnKeys, None, None),
            Err(Error::Internal(_))
        ));
    }

    /// The version `check` names comes from the `.sbat` vendor line, the same in
    /// Debian's signed shim and MokManager as in their unsigned builds.
    #[test]
    fn shim_and_mok_manager_versions_come_from_their_sbat_vendor_line() {
        let text =
            b"xx\0sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n\
            shim,4,UEFI shim,shim,1,https://github.com/rhboot/shim\n\
            shim.debian,1,Debian,shim,15.7,https://tracker.debian.org/pkg/shim\n\0yy";
        assert_eq!(shim_version(text).as_deref(), Some("15.7"));
        assert_eq!(shim_version(b"no sbat here"), None);
        let installed = |p: &str| shim_version(&std::fs::read(p).unwrap());
        let signed = installed(SHIM_SOURCE).expect("shim-signed's shim has an SBAT vendor line");
        assert_eq!(
            installed("/usr/lib/shim/shimx64.efi").as_deref(),
            Some(&*signed)
        );
        assert_eq!(installed(MOK_MANAGER_SOURCE).as_deref(), Some(&*signed));
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("15.7", "16.1"), Some(Less));
        assert_eq!(compare_versions("16.1", "16.1"), Some(Equal));
        assert_eq!(compare_versions("16.10", "16.9"), Some(Greater));
        assert_eq!(compare_versions("16.1~rc1", "16.1"), None);
    }

    /// The smallest PE32+ image `authenticode` signs: headers and one section.
    fn loaders_stub() -> Vec<u8> {
        let mut pe = vec![0u8; 0x400];
        pe[0..2].copy_from_slice(b"MZ");
        pe[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        pe[coff..coff + 2].copy_from_slice(&0x8664u16.to_le_bytes());
        pe[coff + 2..coff + 4].copy_from_slice(&1u16.to_le_bytes());
        pe[coff + 16..coff + 18].copy_from_slice(&240u16.to_le_bytes());
        let opt = coff + 20;
        pe[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        pe[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
        pe[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        let sec = opt + 240;
        pe[sec..sec + 5].copy_from_slice(b".text");
        pe[sec + 16..sec + 20].copy_from_slice(&0x200u32.to_le_bytes());
        pe[sec + 20..sec + 24].copy_from_slice(&0x200u32.to_le_bytes());
        pe[0x200..0x400].fill(0xC3);
        pe
    }
}
