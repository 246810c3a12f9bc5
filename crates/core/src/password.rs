//! Administrator passwords: argon2id, PHC strings. Slow on purpose, so callers run these on a
//! blocking pool (see [`crate::ports::PasswordHasher`]).

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;

use crate::ports::PasswordError;
use crate::text::InvalidValue;

/// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password good enough to protect every session of a tenant.
pub fn check_new_password(password: &str) -> Result<(), InvalidValue> {
    let chars = password.chars().count();
    if !(12..=256).contains(&chars) {
        return Err(InvalidValue::new("password", "must be 12 to 256 characters"));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Failed(e.to_string()))
}

thread_local! {
    /// argon2's working memory (19 MiB at our parameters), kept per thread and reused. Allocating
    /// it afresh for every check leaves the allocator holding a fragmented 19 MiB more after
    /// almost every log-in; reused, a thread that checks passwords holds exactly one.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Checks `password` against a PHC string, in the thread's reused working memory. Hashes with
/// unsupported or absurd parameters (more than 256 MiB) are refused rather than computed.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    if params.block_count() > MAX_BLOCKS {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut computed = vec![0u8; expected.len()];
    let hashed = BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        blocks.resize(params.block_count(), Block::default());
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut computed,
            &mut blocks[..],
        )
    });
    hashed.is_ok() && bool::from(computed.as_slice().ct_eq(expected.as_bytes()))
}

/// 256 MiB of argon2 memory: far above anything we write (19 MiB).
const MAX_BLOCKS: usize = 256 * 1024;

/// A valid hash of a random password, verified against when the e-mail is unknown so that a
/// failed login takes the same time whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that nobody knows").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!decoy_hash().is_empty());
        // Hashes written by other argon2 implementations and parameters verify the same way.
        let other = argon2::Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(1024, 3, 2, Some(24)).unwrap());
        let salt = SaltString::generate(&mut OsRng);
        let foreign = other.hash_password(b"another password", &salt).unwrap().to_string();
        assert!(verify_password("another password", &foreign));
        assert!(!verify_password("another passwore", &foreign));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough password").is_ok());
    }
}
