//! The Secure Boot options `install` and `update` share (`--no-secure-boot`, `--own-keys`,
//! `--key`/`--cert`) and what they turn into: the ESP's Secure Boot files, signed with the
//! user's key (made on first use in the config directory), see docs/secure-boot.md.

use std::path::PathBuf;
use stick::secure_boot::{esp_files, Mode, ShimFiles, UserKey};
use stick::SecureEsp;

/// How the stick boots under UEFI Secure Boot.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SecureBootArgs {
    /// Plain, unsigned UEFI loader as \EFI\BOOT\BOOTX64.EFI: boots only with Secure Boot off.
    #[arg(long, conflicts_with_all = ["own_keys", "key", "cert"])]
    pub no_secure_boot: bool,
    /// No shim: the loader signed with your key is \EFI\BOOT\BOOTX64.EFI, for machines whose
    /// firmware db already holds your certificate.
    #[arg(long)]
    pub own_keys: bool,
    /// Your signing key (PEM or DER RSA private key) instead of the one bootshelf keeps in
    /// ~/.config/bootshelf/secure-boot (made on first use). Needs --cert.
    #[arg(long, requires = "cert", value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// The certificate of --key (PEM or DER).
    #[arg(long, requires = "key", value_name = "CERT")]
    pub cert: Option<PathBuf>,
}

impl SecureBootArgs {
    /// The mode these options ask for.
    pub fn mode(&self) -> Mode {
        if self.no_secure_boot {
            Mode::Plain
        } else if self.own_keys {
            Mode::OwnKeys
        } else {
            Mode::Shim
        }
    }

    /// The user's key: --key/--cert, or the one in the config directory (made now when
    /// there is none, which is said on stderr).
    pub fn user_key(&self) -> anyhow::Result<UserKey> {
        let key = match (&self.key, &self.cert) {
            (Some(k), Some(c)) => UserKey::load(k, c)?,
            _ => {
                let dir = UserKey::default_dir()?;
                let key = UserKey::load_or_create(&dir)?;
                if key.created {
                    eprintln!(
                        "made your Secure Boot signing key in {} (\"{}\"); it signs every \
                         stick you make, and never goes on one",
                        dir.display(),
                        key.subject()
                    );
                }
                key
            }
        };
        Ok(key)
    }

    /// The ESP files for `loader` in the chosen mode; `None` for the plain loader.
    pub fn secure_esp(&self, loader: &[u8]) -> anyhow::Result<Option<SecureEsp>> {
        let mode = self.mode();
        if mode == Mode::Plain || loader.is_empty() {
            return Ok(None);
        }
        let shim = match mode {
            Mode::Shim => Some(ShimFiles::from_system()?),
            _ => None,
        };
        let key = self.user_key()?;
        Ok(Some(esp_files(loader, mode, Some(&key), shim.as_ref())?))
    }
}
