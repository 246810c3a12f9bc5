//! Master keys: the keys that wrap every object's data key. They live in a file outside the
//! database (a stolen database or bucket alone then reveals nothing) and never in logs.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use aes_gcm::{Aes256Gcm, KeyInit};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of a master key: 32 bytes, an AES-256 key.
pub const MASTER_KEY_LEN: usize = 32;

/// Length of a [`KeyId`] in an object header.
pub const KEY_ID_LEN: usize = 8;

/// Domain separation for the key id, so the fingerprint can never equal a hash computed for
/// another purpose from the same key.
const KEY_ID_DOMAIN: &[u8] = b"veriframe-blob master key id v1\0";

/// Public fingerprint of a master key, written into every object header so that a read finds the
/// right key after rotation. It is a truncated SHA-256 of the key, safe to log and to store.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    pub(crate) fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    fn of(key: &[u8; MASTER_KEY_LEN]) -> Self {
        let digest = Sha256::new().chain_update(KEY_ID_DOMAIN).chain_update(key).finalize();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("master key file {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "master key file {} is accessible to group or others (mode {mode:03o}); it must be 600 (chmod 600)",
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("master key file {} holds {len} bytes; a master key is exactly 32 random bytes", path.display())]
    Length { path: PathBuf, len: u64 },
    #[error("master key file {} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("master key {0} was given twice")]
    Duplicate(KeyId),
}

impl MasterKeyError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io { path: path.to_owned(), source }
    }
}

/// A 256-bit master key, held only as a ready AES-256-GCM cipher whose key schedule is zeroized on
/// drop. `Debug` shows the id, never the key.
pub struct MasterKey {
    id: KeyId,
    cipher: Aes256Gcm,
}

impl MasterKey {
    /// A key from raw bytes (for keys that come from a secret manager rather than a file).
    pub fn from_bytes(bytes: &[u8; MASTER_KEY_LEN]) -> Self {
        Self { id: KeyId::of(bytes), cipher: Aes256Gcm::new(bytes.into()) }
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, MasterKeyError> {
        let bytes = random_key()?;
        Ok(Self::from_bytes(&bytes))
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    pub(crate) fn cipher(&self) -> &Aes256Gcm {
        &self.cipher
    }

    /// Reads a key file: exactly 32 raw bytes, a regular file, and (on Unix) not accessible to
    /// group or others, because a readable key makes the encryption of every blob worthless.
    pub fn load(path: &Path) -> Result<Self, MasterKeyError> {
        let mut file = File::open(path).map_err(|e| MasterKeyError::io(path, e))?;
        // Checked on the open handle, so a swap of the file between check and read cannot pass.
        let meta = file.metadata().map_err(|e| MasterKeyError::io(path, e))?;
        if !meta.is_file() {
            return Err(MasterKeyError::NotAFile { path: path.to_owned() });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(MasterKeyError::Permissions { path: path.to_owned(), mode });
            }
        }
        if meta.len() != MASTER_KEY_LEN as u64 {
            return Err(MasterKeyError::Length { path: path.to_owned(), len: meta.len() });
        }
        // One byte of room to notice a file that grew after the metadata was read.
        let mut buf = Zeroizing::new([0u8; MASTER_KEY_LEN + 1]);
        let mut filled = 0;
        loop {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(MasterKeyError::io(path, e)),
            }
        }
        if filled != MASTER_KEY_LEN {
            return Err(MasterKeyError::Length { path: path.to_owned(), len: filled as u64 });
        }
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        key.copy_from_slice(&buf[..MASTER_KEY_LEN]);
        Ok(Self::from_bytes(&key))
    }

    /// Loads the key at `path`, or creates it there on first start: 32 random bytes, mode 0600,
    /// parent directories created. Creation is atomic (written to a temporary file, then linked
    /// into place only if nothing is there yet), so two servers starting together end up with the
    /// same key and a crash never leaves a half-written key behind.
    pub fn load_or_create(path: &Path) -> Result<Self, MasterKeyError> {
        match Self::load(path) {
            Err(MasterKeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| MasterKeyError::io(parent, e))?;
        }
        let bytes = random_key()?;
        let suffix: [u8; 8] = random_bytes()?;
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", hex::encode(suffix)));
        let result = write_new_key_file(&tmp, &bytes).and_then(|()| match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(MasterKeyError::io(path, e)),
        });
        let _ = std::fs::remove_file(&tmp);
        if !result? {
            return Self::load(path);
        }
        sync_parent(path);
        let key = Self::from_bytes(&bytes);
        tracing::info!(
            path = %path.display(),
            key_id = %key.id,
            "created a new blob master key; back it up: blobs cannot be read without it"
        );
        Ok(key)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).field("key", &"***").finish()
    }
}

fn write_new_key_file(path: &Path, bytes: &[u8; MASTER_KEY_LEN]) -> Result<(), MasterKeyError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| MasterKeyError::io(path, e))?;
    #[cfg(unix)]
    {
        // The umask can only remove bits, but be explicit: the mode is the point of this file.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| MasterKeyError::io(path, e))?;
    }
    file.write_all(bytes).map_err(|e| MasterKeyError::io(path, e))?;
    file.sync_all().map_err(|e| MasterKeyError::io(path, e))
}

/// Makes the new directory entry durable; best effort, as not every platform can sync a directory.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}

fn random_key() -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, MasterKeyError> {
    let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
    OsRng.try_fill_bytes(key.as_mut()).map_err(|e| MasterKeyError::Random(e.to_string()))?;
    Ok(key)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], MasterKeyError> {
    let mut out = [0u8; N];
    OsRng.try_fill_bytes(&mut out).map_err(|e| MasterKeyError::Random(e.to_string()))?;
    Ok(out)
}

/// The master keys a store knows: the primary encrypts every new object; the others are kept
/// only to read objects written before a rotation. Each object names its key by [`KeyId`].
pub struct Keyring {
    primary: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(primary: MasterKey) -> Self {
        Self { primary, previous: Vec::new() }
    }

    /// Adds a retired key that can still decrypt, never encrypt.
    pub fn with_previous(mut self, key: MasterKey) -> Result<Self, MasterKeyError> {
        if self.find(key.id()).is_some() {
            return Err(MasterKeyError::Duplicate(key.id()));
        }
        self.previous.push(key);
        Ok(self)
    }

    pub fn primary(&self) -> &MasterKey {
        &self.primary
    }

    /// Ids of every key, primary first.
    pub fn ids(&self) -> Vec<KeyId> {
        std::iter::once(&self.primary).chain(&self.previous).map(MasterKey::id).collect()
    }

    pub(crate) fn find(&self, id: KeyId) -> Option<&MasterKey> {
        std::iter::once(&self.primary).chain(&self.previous).find(|k| k.id == id)
    }
}

impl From<MasterKey> for Keyring {
    fn from(primary: MasterKey) -> Self {
        Self::new(primary)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("primary", &self.primary.id).field("previous", &self.previous.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let bytes = [0x5a; MASTER_KEY_LEN];
        let key = MasterKey::from_bytes(&bytes);
        let shown = format!("{key:?} {:?}", Keyring::new(MasterKey::from_bytes(&bytes)));
        assert!(!shown.contains("5a5a") && !shown.contains("90, 90"), "{shown}");
        assert!(shown.contains(&key.id().to_string()));
    }

    #[test]
    fn the_id_is_a_fingerprint_of_the_key() {
        let a = MasterKey::from_bytes(&[1; MASTER_KEY_LEN]);
        let a2 = MasterKey::from_bytes(&[1; MASTER_KEY_LEN]);
        let b = MasterKey::from_bytes(&[2; MASTER_KEY_LEN]);
        assert_eq!(a.id(), a2.id());
        assert_ne!(a.id(), b.id());
        assert_ne!(MasterKey::generate().unwrap().id(), MasterKey::generate().unwrap().id());
    }

    #[test]
    fn a_keyring_refuses_the_same_key_twice() {
        let ring = Keyring::new(MasterKey::from_bytes(&[1; MASTER_KEY_LEN]));
        let err = ring.with_previous(MasterKey::from_bytes(&[1; MASTER_KEY_LEN])).unwrap_err();
        assert!(matches!(err, MasterKeyError::Duplicate(_)));
    }
}
