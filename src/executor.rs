//! Where GraphQL runs: a thread pool of its own, off the actix workers.
//!
//! An actix worker is one thread serving every connection it has accepted. Whatever CPU work a
//! request does on it (parsing and validating a 200 KB document, resolving a page of a hundred
//! entities, serializing a big answer) is time during which that worker's other connections,
//! `/healthz` among them, get nothing. So the workers only move bytes: they read the body,
//! check the headers, prepare a small request and answer it from the caches, and hand
//! everything that costs CPU (every execution, and the whole of a big request) to this pool.
//! A load balancer's health check and a small mutation then wait for a free worker only as
//! long as it takes to move bytes, never behind someone else's query. (Graph searches go one
//! step further, to this runtime's blocking pool under a permit: [`crate::api::work`].)
//!
//! The pool's threads also run at a lower scheduling priority than the workers (nice +5 on
//! Linux, which needs no privilege): when the cores are busy with queries, the thread that
//! answers `/healthz` or reads a body is still scheduled first.

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;

/// The pool; cheap to clone. Dropping the last clone stops its threads without waiting for
/// them (it may be dropped inside the actix runtime, where blocking is not allowed).
#[derive(Clone)]
pub struct Executor {
    handle: tokio::runtime::Handle,
    _owner: Arc<Owner>,
}

struct Owner(Option<tokio::runtime::Runtime>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The work was lost: it panicked, or the pool was shut down under it.
#[derive(Debug, thiserror::Error)]
#[error("the GraphQL executor lost the request: {0}")]
pub struct Lost(String);

impl Executor {
    /// A pool of `threads` threads (0: one per core, at least two).
    pub fn new(threads: usize) -> std::io::Result<Executor> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2),
            n => n,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("graphql")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(Executor { handle: rt.handle().clone(), _owner: Arc::new(Owner(Some(rt))) })
    }

    /// Runs `work` on the pool and waits for it, in the caller's tracing span. If the caller
    /// stops waiting (its client went away), the work is cancelled at its next await point.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, Lost>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.handle.spawn(work.instrument(tracing::Span::current()));
        let abort = task.abort_handle();
        let _cancel_on_drop = scopeguard(move || abort.abort());
        task.await.map_err(|e| Lost(e.to_string()))
    }

    /// Starts `work` on the pool without waiting for it (a websocket operation, which sends
    /// what it has through a channel); the handle aborts it.
    pub fn spawn<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(work.instrument(tracing::Span::current()))
    }
}

/// Makes the calling thread yield the CPU to the actix workers when both want it.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `gettid` has no preconditions; `setpriority` on our own thread id only changes
    // that thread's nice value, and raising it needs no privilege. A failure leaves the
    // priority as it was, which is harmless.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 5);
    }
}

/// Calls `f` when dropped (a waiting future that is dropped aborts what it waited for).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_off_the_calling_thread_and_returns_the_output() {
        let pool = Executor::new(2).unwrap();
        let here = std::thread::current().id();
        let (there, name) = pool
            .run(async { (std::thread::current().id(), std::thread::current().name().map(str::to_string)) })
            .await
            .unwrap();
        assert_ne!(here, there);
        assert_eq!(name.as_deref(), Some("graphql"));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_crash() {
        let pool = Executor::new(1).unwrap();
        let r = pool.run(async { panic!("boom") }).await;
        assert!(r.is_err());
        assert_eq!(pool.run(async { 2 + 2 }).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn dropping_the_waiter_cancels_the_work() {
        let pool = Executor::new(1).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let waiter = pool.run(async move {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            drop(tx);
        });
        drop(tokio::time::timeout(std::time::Duration::from_millis(20), waiter).await);
        // The task was aborted: its sender is dropped without the 30 s sleep.
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), rx).await;
        assert!(closed.is_ok(), "the work went on after its waiter was dropped");
    }
}
