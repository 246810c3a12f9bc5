//! Bounded CPU for inference: capture checks and jobs share one pool sized to the cores, so a
//! burst of uploads queues instead of starving the async runtime or thrashing the caches.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// A pool of `n` slots for blocking, CPU-heavy work.
#[derive(Debug, Clone)]
pub struct CpuPool {
    slots: Arc<Semaphore>,
    size: usize,
}

/// The work panicked or the runtime is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("CPU task did not complete: {0}")]
pub struct CpuError(String);

impl CpuPool {
    /// `size` concurrent tasks at most (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        Self { slots: Arc::new(Semaphore::new(size)), size }
    }

    /// One slot per available core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, CpuError> {
        let _slot = self.slots.acquire().await.map_err(|e| CpuError(e.to_string()))?;
        tokio::task::spawn_blocking(work).await.map_err(|e| CpuError(e.to_string()))
    }
}
