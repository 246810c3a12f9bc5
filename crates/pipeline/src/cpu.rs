//! Bounded CPU for inference and password hashing, with admission control.
//!
//! A pool has `size` slots (one per core for vision work) and admits at most `queue` callers
//! waiting for one. Interactive callers ([`CpuPool::run`]) beyond that bound, or still waiting
//! after `max_wait`, are refused at once with [`CpuError::Busy`], which the HTTP layer turns into
//! a fast 503 with `Retry-After` — a crowd gets a clear answer instead of a 30-second timeout.
//! Durable jobs ([`CpuPool::run_job`]) wait as long as it takes: they are bounded by the number
//! of workers, not by the queue.
//!
//! The slot travels into the blocking closure and is released only when the work returns, so a
//! request that times out or is cancelled never frees a slot its work still occupies.
//!
//! Each pool runs its work on threads of its own, one per slot, rather than on tokio's blocking
//! pool: the allocator keeps freed memory in per-thread arenas, so work that hops between many
//! short-lived threads (argon2's 19 MiB, a decoded photo's 50 MiB) leaves that much behind in
//! each of them. A fixed set of threads keeps the retained memory to one working set per slot.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// How a pool admits work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Work running at once (at least one).
    pub size: usize,
    /// Interactive callers that may wait for a slot; beyond this they are refused.
    pub queue: usize,
    /// Longest an interactive caller waits for a slot before it is refused.
    pub max_wait: Duration,
    /// What a refused caller is told to wait before retrying.
    pub retry_after: Duration,
}

impl Admission {
    /// One slot per available core, a queue of four callers per slot, ten seconds of waiting.
    pub fn per_core() -> Self {
        let size = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self { size, queue: 4 * size, max_wait: Duration::from_secs(10), retry_after: Duration::from_secs(2) }
    }
}

type Task = Box<dyn FnOnce() + Send>;

/// A pool of slots for blocking, CPU-heavy work.
#[derive(Debug, Clone)]
pub struct CpuPool {
    slots: Arc<Semaphore>,
    /// Interactive callers admitted (running or waiting): `size + queue` permits.
    admitted: Arc<Semaphore>,
    admission: Admission,
    /// Work for the pool's threads; they end when the last handle to the pool is dropped.
    tasks: mpsc::Sender<Task>,
}

/// Why work did not run or complete.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// The pool is full: the caller should come back after `retry_after`.
    #[error("the server is busy; retry in {} s", retry_after.as_secs().max(1))]
    Busy { retry_after: Duration },
    /// The work panicked or the runtime is shutting down.
    #[error("CPU task did not complete: {0}")]
    Failed(String),
}

impl CpuPool {
    pub fn new(admission: Admission) -> Self {
        Self::named("veriframe-cpu", admission)
    }

    /// A pool whose threads are called `name-0`, `name-1`, ...
    pub fn named(name: &str, admission: Admission) -> Self {
        let size = admission.size.max(1);
        let admission = Admission { size, ..admission };
        let (tasks, queue) = mpsc::channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..size {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                loop {
                    let task = match queue.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    match task {
                        Ok(task) => task(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a CPU thread");
            }
        }
        Self {
            slots: Arc::new(Semaphore::new(size)),
            admitted: Arc::new(Semaphore::new(size + admission.queue)),
            admission,
            tasks,
        }
    }

    /// One slot per available core, with [`Admission::per_core`]'s queue.
    pub fn per_core() -> Self {
        Self::new(Admission::per_core())
    }

    pub fn size(&self) -> usize {
        self.admission.size
    }

    pub fn admission(&self) -> Admission {
        self.admission
    }

    /// Slots free right now (for tests and metrics).
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    fn busy(&self) -> CpuError {
        CpuError::Busy { retry_after: self.admission.retry_after }
    }

    /// Interactive work: admitted only while the queue has room, and only if a slot frees up
    /// within `max_wait`; otherwise [`CpuError::Busy`] at once.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, CpuError> {
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| self.busy())?;
        let slot = tokio::time::timeout(self.admission.max_wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| self.busy())?
            .map_err(|e| CpuError::Failed(e.to_string()))?;
        self.spawn(slot, Some(admitted), work).await
    }

    /// Durable-job work: waits for a slot however long it takes, outside the admission queue.
    pub async fn run_job<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, CpuError> {
        let slot = self.slots.clone().acquire_owned().await.map_err(|e| CpuError::Failed(e.to_string()))?;
        self.spawn(slot, None, work).await
    }

    async fn spawn<T: Send + 'static>(
        &self,
        slot: OwnedSemaphorePermit,
        admitted: Option<OwnedSemaphorePermit>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        let (done, result) = oneshot::channel();
        // The permits move into the task: dropping the returned future (a timeout, a client
        // that went away) leaves them held until the work itself ends. A panic in the work is
        // caught, so the thread lives on.
        let task: Task = Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(work));
            drop((slot, admitted));
            let _ = done.send(outcome);
        });
        self.tasks.send(task).map_err(|_| CpuError::Failed("the CPU threads have stopped".into()))?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(CpuError::Failed("the work panicked".into())),
            Err(_) => Err(CpuError::Failed("the CPU threads have stopped".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn pool(size: usize, queue: usize, max_wait_ms: u64) -> CpuPool {
        CpuPool::new(Admission {
            size,
            queue,
            max_wait: Duration::from_millis(max_wait_ms),
            retry_after: Duration::from_secs(1),
        })
    }

    /// A caller that gives up (a request timeout) must not free the slot its work still uses.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_caller_keeps_its_slot_until_the_work_ends() {
        let pool = pool(1, 4, 5_000);
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let call = pool.run(move || {
            std::thread::sleep(Duration::from_millis(400));
            flag.store(true, Ordering::SeqCst);
        });
        // The caller times out long before the work is done.
        assert!(tokio::time::timeout(Duration::from_millis(50), call).await.is_err());
        assert_eq!(pool.free_slots(), 0, "the abandoned work still runs in its slot");
        // The next caller waits for that work instead of running beside it.
        let started = std::time::Instant::now();
        let saw = pool.run({
            let finished = finished.clone();
            move || finished.load(Ordering::SeqCst)
        });
        assert!(saw.await.unwrap(), "the second task ran only after the first had finished");
        assert!(started.elapsed() >= Duration::from_millis(250));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(pool.free_slots(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_callers_are_refused_at_once() {
        let pool = pool(1, 1, 5_000);
        let slow = || std::thread::sleep(Duration::from_millis(300));
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(slow).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(slow).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let refused = pool.run(|| ()).await;
        assert!(matches!(refused, Err(CpuError::Busy { .. })), "{refused:?}");
        assert!(started.elapsed() < Duration::from_millis(50), "refusal is immediate");
        running.await.unwrap().unwrap();
        waiting.await.unwrap().unwrap();
        // Jobs are never refused: they wait.
        pool.run_job(|| ()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_runs_on_the_pools_own_threads_and_survives_a_panic() {
        let pool = CpuPool::named("test-pool", Admission { size: 2, ..Admission::per_core() });
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.is_some_and(|n| n.starts_with("test-pool-")));
        assert!(matches!(pool.run(|| panic!("boom")).await, Err::<(), _>(CpuError::Failed(_))));
        assert_eq!(pool.run(|| 41 + 1).await.unwrap(), 42, "the pool still works");
        assert_eq!(pool.free_slots(), 2, "a panic frees its slot");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_waits_too_long_is_refused() {
        let pool = pool(1, 8, 100);
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| std::thread::sleep(Duration::from_millis(500))).await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(matches!(pool.run(|| ()).await, Err(CpuError::Busy { .. })));
        running.await.unwrap().unwrap();
    }
}
