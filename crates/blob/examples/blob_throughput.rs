//! Throughput of encrypt+put and get+decrypt, 1 MiB and 10 MiB objects, on the local backend
//! (fsync on, as in production) and on the in-memory backend (what the cipher work alone costs).
//!
//! `cargo run --release -p veriframe-blob --no-default-features --example blob_throughput [DIR]`
//!
//! DIR is where the local backend writes (default: a temporary directory under $TMPDIR); point it
//! at the disk that will hold the data directory to measure that disk.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use veriframe_blob::{BlobLocation, EncryptedStore, Keyring, MasterKey, open_blob_store};
use veriframe_core::blob::{BlobKey, BlobStore};
use veriframe_core::ids::{InterviewId, TenantId};

const MIB: usize = 1 << 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::args().nth(1).map_or_else(|| temp.path().join("blobs"), PathBuf::from);
    let local = open_blob_store(&BlobLocation::Local(dir.clone()), keyring()?)?;
    let memory = EncryptedStore::in_memory(keyring()?);
    println!("local backend in {}", dir.display());
    println!("| backend | object | operation | median | p90 | throughput (median) |");
    println!("|---|---|---|---|---|---|");
    for (name, store) in [("local (fsync)", &*local as &dyn BlobStore), ("memory", &memory)] {
        for (size, rounds) in [(MIB, 40), (10 * MIB, 12)] {
            measure(name, store, size, rounds).await?;
        }
    }
    Ok(())
}

fn keyring() -> Result<Keyring, Box<dyn std::error::Error>> {
    Ok(Keyring::new(MasterKey::generate()?))
}

async fn measure(
    name: &str,
    store: &dyn BlobStore,
    size: usize,
    rounds: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let now = OffsetDateTime::now_utc();
    let (tenant, session) = (TenantId::generate(now), InterviewId::generate(now));
    // Content that does not compress or repeat, like a JPEG.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let content: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let (mut puts, mut gets) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let key = BlobKey::for_session(tenant, session, "bench");
        let started = Instant::now();
        store.put(&key, content.clone()).await?;
        let put = started.elapsed();
        let started = Instant::now();
        let read = store.get(&key).await?.ok_or("blob vanished")?;
        let get = started.elapsed();
        if read.len() != size {
            return Err("wrong length read back".into());
        }
        // Round 0 warms up the page cache, the allocator and the blocking pool.
        if round > 0 {
            puts.push(put);
            gets.push(get);
        }
    }
    store.delete_prefix(&BlobKey::session_prefix(tenant, session)).await?;
    for (operation, times) in [("encrypt + put", &mut puts), ("get + decrypt", &mut gets)] {
        times.sort();
        let median = times[times.len() / 2];
        let p90 = times[times.len() * 9 / 10];
        let mib_s = size as f64 / MIB as f64 / median.as_secs_f64();
        println!("| {name} | {} MiB | {operation} | {} | {} | {mib_s:.0} MiB/s |", size / MIB, ms(median), ms(p90));
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
