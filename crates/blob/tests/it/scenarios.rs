//! What every backend must do. Each scenario takes a fresh backend.

use std::sync::Arc;

use time::OffsetDateTime;
use veriframe_blob::{Keyring, MasterKey};
use veriframe_core::blob::{BlobError, BlobKey};
use veriframe_core::ids::{InterviewId, TenantId};

use crate::backends::Backend;

const HEADER_LEN: usize = 85;
const OVERHEAD: usize = HEADER_LEN + 16;

fn key_bytes(seed: u8) -> [u8; 32] {
    let mut bytes = [seed; 32];
    bytes[0] = 0xa5;
    bytes
}

fn keyring(seed: u8) -> Keyring {
    Keyring::new(MasterKey::from_bytes(&key_bytes(seed)))
}

fn ids() -> (TenantId, InterviewId) {
    let now = OffsetDateTime::now_utc();
    (TenantId::generate(now), InterviewId::generate(now))
}

fn new_key(name: &str) -> BlobKey {
    let (tenant, session) = ids();
    BlobKey::for_session(tenant, session, name)
}

/// Recognisable content: a marker repeated, plus some bytes that vary.
fn plaintext(len: usize) -> Vec<u8> {
    let marker = b"PASSPORT-PLAINTEXT-MARKER-";
    (0..len)
        .map(|i| if (i / marker.len()).is_multiple_of(2) { marker[i % marker.len()] } else { (i * 31 % 251) as u8 })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_integrity(result: Result<Option<Vec<u8>>, BlobError>, what: &str) {
    match result {
        Err(BlobError::Integrity(_)) => {}
        other => panic!("{what}: expected an integrity error, got {:?}", other.map(|o| o.map(|v| v.len()))),
    }
}

pub async fn round_trips(b: &impl Backend) {
    let store = b.store(keyring(1));
    for len in [0, 1, 15, 16, 17, 1000, 1 << 20] {
        let key = new_key("front");
        let content = plaintext(len);
        store.put(&key, content.clone()).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap().as_deref(), Some(&content[..]), "{len} bytes");
    }
    let key = new_key("selfie");
    assert_eq!(store.get(&key).await.unwrap(), None, "never written");
    store.put(&key, b"first".to_vec()).await.unwrap();
    store.put(&key, b"second".to_vec()).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap().as_deref(), Some(&b"second"[..]), "overwritten");
    // A second store with the same key reads what the first wrote (a restart).
    assert_eq!(b.store(keyring(1)).get(&key).await.unwrap().as_deref(), Some(&b"second"[..]));
    store.delete(&key).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None, "deleted");
    store.delete(&key).await.unwrap();
}

pub async fn the_backend_holds_only_ciphertext(b: &impl Backend) {
    let store = b.store(keyring(1));
    let key = new_key("front");
    let content = plaintext(64 * 1024);
    store.put(&key, content.clone()).await.unwrap();
    let raw = b.raw_get(key.as_str()).await.expect("stored under its key");
    assert_eq!(raw.len(), content.len() + OVERHEAD);
    assert_eq!(&raw[..5], b"VFBL\x01");
    assert!(!contains(&raw, b"PASSPORT-PLAINTEXT"), "plaintext reached the {} backend", b.name());
    assert!(!contains(&raw, &content[..16]));
}

pub async fn any_tampering_is_an_integrity_error(b: &impl Backend) {
    let store = b.store(keyring(1));
    let key = new_key("front");
    store.put(&key, plaintext(4096)).await.unwrap();
    let good = b.raw_get(key.as_str()).await.unwrap();
    let last = good.len() - 1;
    // magic, version, key id, wrap nonce, wrapped key, wrap tag, content nonce, ciphertext
    // (first, middle), content tag (first, last)
    for (at, field) in [
        (0, "magic"),
        (4, "version"),
        (9, "key id"),
        (20, "wrap nonce"),
        (40, "wrapped data key"),
        (70, "wrap tag"),
        (80, "content nonce"),
        (HEADER_LEN, "ciphertext start"),
        (HEADER_LEN + 2000, "ciphertext middle"),
        (last - 15, "content tag start"),
        (last, "content tag end"),
    ] {
        for bit in [0x01, 0x80] {
            let mut bad = good.clone();
            bad[at] ^= bit;
            b.raw_put(key.as_str(), bad).await;
            assert_integrity(store.get(&key).await, &format!("{field} (byte {at}, bit {bit:#x})"));
        }
    }
    b.raw_put(key.as_str(), good).await;
    assert!(store.get(&key).await.unwrap().is_some(), "restored original opens again");
}

pub async fn truncated_objects_are_integrity_errors(b: &impl Backend) {
    let store = b.store(keyring(1));
    let key = new_key("front");
    store.put(&key, plaintext(1000)).await.unwrap();
    let good = b.raw_get(key.as_str()).await.unwrap();
    for len in [0, 1, 4, 5, 50, HEADER_LEN, OVERHEAD - 1, OVERHEAD, good.len() - 16, good.len() - 1] {
        b.raw_put(key.as_str(), good[..len].to_vec()).await;
        assert_integrity(store.get(&key).await, &format!("truncated to {len}"));
    }
    // Appended bytes shift the tag: also rejected.
    b.raw_put(key.as_str(), [&good[..], b"x"].concat()).await;
    assert_integrity(store.get(&key).await, "one byte appended");
    // Not ours at all.
    b.raw_put(key.as_str(), plaintext(500)).await;
    assert_integrity(store.get(&key).await, "plaintext planted under the key");
}

pub async fn a_blob_moved_to_another_key_does_not_open(b: &impl Backend) {
    let store = b.store(keyring(1));
    let (tenant, session) = ids();
    let front = BlobKey::for_session(tenant, session, "front");
    let selfie = BlobKey::for_session(tenant, session, "selfie");
    let other_tenant = new_key("front");
    store.put(&front, plaintext(300)).await.unwrap();
    store.put(&selfie, b"selfie".to_vec()).await.unwrap();
    let raw = b.raw_get(front.as_str()).await.unwrap();
    // Swapping two blobs of one session, or copying into another tenant, must both fail.
    b.raw_put(selfie.as_str(), raw.clone()).await;
    assert_integrity(store.get(&selfie).await, "copied over a sibling");
    b.raw_put(other_tenant.as_str(), raw).await;
    assert_integrity(store.get(&other_tenant).await, "copied into another tenant");
    assert!(store.get(&front).await.unwrap().is_some(), "the original is untouched");
}

pub async fn a_wrong_or_unknown_master_key_is_an_integrity_error(b: &impl Backend) {
    let key = new_key("front");
    b.store(keyring(1)).put(&key, plaintext(100)).await.unwrap();
    // A server with another master key: the id is unknown to it.
    assert_integrity(b.store(keyring(2)).get(&key).await, "unknown key id");

    // An object that claims key 1's id but was wrapped with key 2: the id matches, the key
    // does not.
    let forged_key = new_key("front");
    b.store(keyring(2)).put(&forged_key, plaintext(100)).await.unwrap();
    let mut forged = b.raw_get(forged_key.as_str()).await.unwrap();
    forged[5..13].copy_from_slice(keyring(1).primary().id().as_bytes());
    b.raw_put(forged_key.as_str(), forged).await;
    assert_integrity(b.store(keyring(1)).get(&forged_key).await, "right id, wrong key");
}

pub async fn rotation_keeps_old_objects_readable(b: &impl Backend) {
    let old = b.store(keyring(1));
    let before = new_key("front");
    old.put(&before, b"written before rotation".to_vec()).await.unwrap();

    let rotated = b.store(
        Keyring::new(MasterKey::from_bytes(&key_bytes(2))).with_previous(MasterKey::from_bytes(&key_bytes(1))).unwrap(),
    );
    assert_eq!(rotated.get(&before).await.unwrap().as_deref(), Some(&b"written before rotation"[..]));
    let after = new_key("front");
    rotated.put(&after, b"written after rotation".to_vec()).await.unwrap();
    let raw = b.raw_get(after.as_str()).await.unwrap();
    assert_eq!(&raw[5..13], keyring(2).primary().id().as_bytes(), "new writes use the primary");
    assert_eq!(rotated.get(&after).await.unwrap().as_deref(), Some(&b"written after rotation"[..]));

    // Each key alone reads only its own objects.
    assert_integrity(old.get(&after).await, "old key, new object");
    assert_integrity(b.store(keyring(2)).get(&before).await, "new key alone, old object");
}

pub async fn ten_mebibyte_objects_round_trip(b: &impl Backend) {
    let store = b.store(keyring(1));
    let key = new_key("front");
    let content = plaintext(10 << 20);
    store.put(&key, content.clone()).await.unwrap();
    assert_eq!(b.raw_get(key.as_str()).await.unwrap().len(), content.len() + OVERHEAD);
    let read = store.get(&key).await.unwrap().unwrap();
    assert!(read == content, "10 MiB differs after a round trip");
}

pub async fn concurrent_puts_all_land(b: &impl Backend) {
    let store = b.store(keyring(1));
    let (tenant, session) = ids();
    let shared = BlobKey::for_session(tenant, session, "shared");
    let mut tasks = Vec::new();
    for i in 0..24u8 {
        let store = Arc::clone(&store);
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let key = BlobKey::for_session(tenant, session, "frame");
            let content = [&[i][..], &plaintext(50_000 + usize::from(i))].concat();
            store.put(&key, content.clone()).await.unwrap();
            // Everyone also writes the same key: whichever wins, the object must be whole.
            store.put(&shared, content.clone()).await.unwrap();
            (key, content)
        }));
    }
    let mut written = Vec::new();
    for task in tasks {
        written.push(task.await.unwrap());
    }
    for (key, content) in &written {
        assert_eq!(store.get(key).await.unwrap().as_ref(), Some(content));
    }
    let winner = store.get(&shared).await.unwrap().expect("the shared key holds one of the writes");
    assert!(written.iter().any(|(_, c)| *c == winner), "the shared object is one whole write");
}

pub async fn delete_prefix_purges_one_session_only(b: &impl Backend) {
    let store = b.store(keyring(1));
    let (tenant, session) = ids();
    let (_, other_session) = ids();
    let ours: Vec<BlobKey> =
        ["front", "back", "selfie"].iter().map(|n| BlobKey::for_session(tenant, session, n)).collect();
    let theirs = BlobKey::for_session(tenant, other_session, "front");
    for key in ours.iter().chain([&theirs]) {
        store.put(key, b"x".to_vec()).await.unwrap();
    }
    let prefix = BlobKey::session_prefix(tenant, session);
    assert_eq!(store.delete_prefix(&prefix).await.unwrap(), 3);
    for key in &ours {
        assert_eq!(store.get(key).await.unwrap(), None);
        assert_eq!(b.raw_get(key.as_str()).await, None);
    }
    assert!(store.get(&theirs).await.unwrap().is_some(), "another session's blob survives");
    assert_eq!(store.delete_prefix(&prefix).await.unwrap(), 0, "nothing left");
    for bad in ["", "/", "tenants", "tenants/", "other/", "tenants/../", "tenants//x/"] {
        assert!(
            matches!(store.delete_prefix(bad).await, Err(BlobError::Other(_))),
            "delete_prefix({bad:?}) must be refused"
        );
    }
    assert!(store.get(&theirs).await.unwrap().is_some());
}

pub async fn ping_and_name(b: &impl Backend) {
    let store = b.store(keyring(1));
    store.ping().await.unwrap();
    assert_eq!(store.backend(), b.name());
}
