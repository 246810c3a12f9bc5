//! Envelope encryption of one object, and its byte format.
//!
//! Every object gets its own fresh random 256-bit data key, which encrypts the content with
//! AES-256-GCM; the data key is itself encrypted ("wrapped") with the master key. Rotating the
//! master key then never requires re-encrypting content, and no two objects ever share a key, so
//! random 96-bit nonces are safe however many objects are written.
//!
//! # Byte format, version 1
//!
//! All lengths in bytes; integers are single bytes, so there is no endianness.
//!
//! | offset   | length | field                                                                 |
//! |----------|--------|-----------------------------------------------------------------------|
//! | 0        | 4      | magic `VFBL`                                                          |
//! | 4        | 1      | format version, `1`                                                   |
//! | 5        | 8      | master key id ([`KeyId`](crate::KeyId)): SHA-256(domain ‖ key)\[..8\] |
//! | 13       | 12     | wrap nonce, random                                                    |
//! | 25       | 48     | wrapped data key: AES-256-GCM(master key) ciphertext (32) ‖ tag (16)  |
//! | 73       | 12     | content nonce, random                                                 |
//! | 85       | n      | content ciphertext: AES-256-GCM(data key), as long as the plaintext   |
//! | 85 + n   | 16     | content tag                                                           |
//!
//! Associated data binds each part to its context:
//! - wrapping: bytes 0..13 (magic, version, key id) ‖ the object key (UTF-8);
//! - content: bytes 0..85 (the whole header) ‖ the object key.
//!
//! Because the object key (e.g. `tenants/…/sessions/…/front-…`, the logical key, without any
//! backend prefix) is authenticated, a blob copied or moved to another key fails to decrypt, and
//! because the whole header is authenticated, changing any header byte fails too. An object is
//! at least 101 bytes (an empty plaintext).

use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use rand::TryRngCore;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::master_key::{KEY_ID_LEN, KeyId, Keyring};

pub(crate) const MAGIC: [u8; 4] = *b"VFBL";
pub(crate) const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;
const DATA_KEY_LEN: usize = 32;

const KEY_ID_AT: usize = MAGIC.len() + 1;
const WRAP_NONCE_AT: usize = KEY_ID_AT + KEY_ID_LEN;
const WRAPPED_KEY_AT: usize = WRAP_NONCE_AT + NONCE_LEN;
const CONTENT_NONCE_AT: usize = WRAPPED_KEY_AT + DATA_KEY_LEN + TAG_LEN;
/// Length of the header that precedes the content ciphertext.
pub(crate) const HEADER_LEN: usize = CONTENT_NONCE_AT + NONCE_LEN;

/// Why a stored object could not be opened. Each one is an integrity failure to the caller; the
/// distinction is for the operator's log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum OpenError {
    #[error("shorter than the smallest valid object ({0} bytes)")]
    Truncated(usize),
    #[error("not a veriframe blob (bad magic)")]
    BadMagic,
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    #[error("encrypted with unknown master key {0}")]
    UnknownKey(KeyId),
    #[error("data key failed authentication (wrong key, tampered header, or moved object)")]
    KeyUnwrap,
    #[error("content failed authentication (tampered, truncated or moved object)")]
    Content,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SealError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("object too large to encrypt")]
    TooLarge,
}

/// Encrypts `plaintext` (in place, no copy) for storage under `object`; returns the header and
/// the ciphertext followed by its tag, to be stored concatenated.
pub(crate) fn seal(
    keyring: &Keyring,
    object: &str,
    mut plaintext: Vec<u8>,
) -> Result<([u8; HEADER_LEN], Vec<u8>), SealError> {
    let master = keyring.primary();
    let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    let mut wrap_nonce = [0u8; NONCE_LEN];
    let mut content_nonce = [0u8; NONCE_LEN];
    for buf in [&mut data_key[..], &mut wrap_nonce, &mut content_nonce] {
        OsRng.try_fill_bytes(buf).map_err(|e| SealError::Random(e.to_string()))?;
    }

    let mut header = [0u8; HEADER_LEN];
    header[..MAGIC.len()].copy_from_slice(&MAGIC);
    header[MAGIC.len()] = VERSION;
    header[KEY_ID_AT..WRAP_NONCE_AT].copy_from_slice(master.id().as_bytes());
    header[WRAP_NONCE_AT..WRAPPED_KEY_AT].copy_from_slice(&wrap_nonce);

    let wrap_aad = associated_data(&header[..WRAP_NONCE_AT], object);
    let mut wrapped = *data_key;
    let wrap_tag = master
        .cipher()
        .encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(wrap_nonce), &wrap_aad, (&mut wrapped[..]).into())
        .map_err(|_| SealError::TooLarge)?;
    header[WRAPPED_KEY_AT..WRAPPED_KEY_AT + DATA_KEY_LEN].copy_from_slice(&wrapped);
    header[WRAPPED_KEY_AT + DATA_KEY_LEN..CONTENT_NONCE_AT].copy_from_slice(&wrap_tag);
    header[CONTENT_NONCE_AT..].copy_from_slice(&content_nonce);

    // Borrowed as the cipher's key type, so no unzeroized copy of the data key is made.
    let cipher = Aes256Gcm::new((&*data_key).into());
    let content_aad = associated_data(&header, object);
    let tag = cipher
        .encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(content_nonce), &content_aad, (&mut plaintext[..]).into())
        .map_err(|_| SealError::TooLarge)?;
    plaintext.extend_from_slice(&tag);
    Ok((header, plaintext))
}

/// Authenticates and decrypts a stored object (in place) read from `object`.
pub(crate) fn open(keyring: &Keyring, object: &str, mut stored: Vec<u8>) -> Result<Vec<u8>, OpenError> {
    if stored.len() < HEADER_LEN + TAG_LEN {
        return Err(OpenError::Truncated(stored.len()));
    }
    if stored[..MAGIC.len()] != MAGIC {
        return Err(OpenError::BadMagic);
    }
    if stored[MAGIC.len()] != VERSION {
        return Err(OpenError::UnsupportedVersion(stored[MAGIC.len()]));
    }
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&stored[KEY_ID_AT..WRAP_NONCE_AT]);
    let id = KeyId::from_bytes(id);
    let master = keyring.find(id).ok_or(OpenError::UnknownKey(id))?;

    let wrap_aad = associated_data(&stored[..WRAP_NONCE_AT], object);
    let wrap_nonce =
        Nonce::<Aes256Gcm>::try_from(&stored[WRAP_NONCE_AT..WRAPPED_KEY_AT]).map_err(|_| OpenError::KeyUnwrap)?;
    let wrap_tag = Tag::<Aes256Gcm>::try_from(&stored[WRAPPED_KEY_AT + DATA_KEY_LEN..CONTENT_NONCE_AT])
        .map_err(|_| OpenError::KeyUnwrap)?;
    let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    data_key.copy_from_slice(&stored[WRAPPED_KEY_AT..WRAPPED_KEY_AT + DATA_KEY_LEN]);
    master
        .cipher()
        .decrypt_inout_detached(&wrap_nonce, &wrap_aad, (&mut data_key[..]).into(), &wrap_tag)
        .map_err(|_| OpenError::KeyUnwrap)?;

    // Borrowed as the cipher's key type, so no unzeroized copy of the data key is made.
    let cipher = Aes256Gcm::new((&*data_key).into());
    let content_aad = associated_data(&stored[..HEADER_LEN], object);
    let content_nonce =
        Nonce::<Aes256Gcm>::try_from(&stored[CONTENT_NONCE_AT..HEADER_LEN]).map_err(|_| OpenError::Content)?;
    let tag_at = stored.len() - TAG_LEN;
    let tag = Tag::<Aes256Gcm>::try_from(&stored[tag_at..]).map_err(|_| OpenError::Content)?;
    cipher
        .decrypt_inout_detached(&content_nonce, &content_aad, (&mut stored[HEADER_LEN..tag_at]).into(), &tag)
        .map_err(|_| OpenError::Content)?;
    stored.truncate(tag_at);
    stored.drain(..HEADER_LEN);
    Ok(stored)
}

/// `prefix ‖ object key`. The prefix has a fixed length for a given format version, so the
/// concatenation is unambiguous.
fn associated_data(prefix: &[u8], object: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(prefix.len() + object.len());
    aad.extend_from_slice(prefix);
    aad.extend_from_slice(object.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master_key::MasterKey;

    const OBJECT: &str = "tenants/a/sessions/b/front-0011223344556677";

    fn ring(seed: u8) -> Keyring {
        Keyring::new(MasterKey::from_bytes(&[seed; 32]))
    }

    fn stored(keyring: &Keyring, plaintext: &[u8]) -> Vec<u8> {
        let (header, body) = seal(keyring, OBJECT, plaintext.to_vec()).unwrap();
        [&header[..], &body].concat()
    }

    #[test]
    fn layout_matches_the_documented_format() {
        assert_eq!(HEADER_LEN, 85);
        let keyring = ring(7);
        let blob = stored(&keyring, b"hello");
        assert_eq!(blob.len(), HEADER_LEN + 5 + TAG_LEN);
        assert_eq!(&blob[..4], b"VFBL");
        assert_eq!(blob[4], 1);
        assert_eq!(&blob[5..13], keyring.primary().id().as_bytes());
        assert_eq!(open(&keyring, OBJECT, blob).unwrap(), b"hello");
    }

    #[test]
    fn every_seal_uses_fresh_nonces_and_data_keys() {
        let keyring = ring(7);
        let a = stored(&keyring, b"same plaintext");
        let b = stored(&keyring, b"same plaintext");
        assert_ne!(a[13..25], b[13..25], "wrap nonce");
        assert_ne!(a[25..73], b[25..73], "wrapped data key");
        assert_ne!(a[73..85], b[73..85], "content nonce");
        assert_ne!(a[85..], b[85..], "ciphertext");
    }

    #[test]
    fn any_changed_byte_fails_with_the_right_reason() {
        let keyring = ring(7);
        let blob = stored(&keyring, b"some content");
        for at in 0..blob.len() {
            let mut bad = blob.clone();
            bad[at] ^= 0x01;
            let err = open(&keyring, OBJECT, bad).unwrap_err();
            let expected = match at {
                0..4 => err == OpenError::BadMagic,
                4 => err == OpenError::UnsupportedVersion(0),
                5..13 => matches!(err, OpenError::UnknownKey(_)),
                13..73 => err == OpenError::KeyUnwrap,
                _ => err == OpenError::Content,
            };
            assert!(expected, "byte {at}: {err:?}");
        }
    }

    #[test]
    fn short_objects_are_truncated_not_panics() {
        let keyring = ring(7);
        let blob = stored(&keyring, b"");
        assert_eq!(blob.len(), HEADER_LEN + TAG_LEN);
        assert_eq!(open(&keyring, OBJECT, blob.clone()).unwrap(), b"");
        for len in 0..blob.len() {
            assert_eq!(open(&keyring, OBJECT, blob[..len].to_vec()), Err(OpenError::Truncated(len)));
        }
    }

    #[test]
    fn the_object_key_is_bound() {
        let keyring = ring(7);
        let blob = stored(&keyring, b"content");
        let err = open(&keyring, "tenants/a/sessions/b/front-8899aabbccddeeff", blob).unwrap_err();
        assert_eq!(err, OpenError::KeyUnwrap);
    }
}
#[cfg(test)]
mod speed_probe {
    #[test]
    fn probe() {
        let k = crate::master_key::Keyring::new(crate::master_key::MasterKey::from_bytes(&[1; 32]));
        let v = vec![0u8; 1 << 20];
        let t = std::time::Instant::now();
        let (_, body) = super::seal(&k, "x", v.clone()).unwrap();
        eprintln!("seal 1MiB {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let _c = v.clone();
        eprintln!("clone 1MiB {:?} {}", t.elapsed(), body.len());
    }
}
