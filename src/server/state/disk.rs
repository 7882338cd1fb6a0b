//! Durable writes (the state file's and the audit log's `fsync`) from the server's async handlers, without stalling
//! a runtime worker.
//!
//! A change is persisted, published, then audited, each synced to disk; an `fsync` here takes tens of
//! milliseconds. Made on a worker thread it takes that worker away from every other task for as long: with one
//! worker per core, the audit log's sync after a move halved the threads answering the long-polls the move had
//! just woken. On the multi-threaded runtime (`rmq-migrate serve`) the write runs in
//! [`tokio::task::block_in_place`], which hands the worker's other tasks to a fresh thread first; the handler still
//! waits for its write, so the order of persist, publish and audit is unchanged.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Run the blocking disk write `f`, first handing this worker's other tasks to another thread when on a
/// multi-threaded runtime. On a current-thread runtime (where that is not possible) or outside a runtime it just
/// runs `f`.
pub(crate) fn write<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_runs_the_write_on_any_runtime_or_none() {
        assert_eq!(write(|| 1), 1);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(current.block_on(async { write(|| 2) }), 2);
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime");
        assert_eq!(multi.block_on(async { write(|| 3) }), 3);
        // On a worker thread of the multi-threaded runtime, and from a blocking task.
        let on_worker = multi.block_on(async { tokio::spawn(async { write(|| 4) }).await });
        assert_eq!(on_worker.expect("task"), 4);
        let on_blocking =
            multi.block_on(async { tokio::task::spawn_blocking(|| write(|| 5)).await });
        assert_eq!(on_blocking.expect("task"), 5);
    }

    #[test]
    fn other_tasks_keep_running_while_a_worker_writes() {
        // One worker, blocked in a "write" until a task queued on it has run: that can only happen if the write
        // handed the worker's tasks to another thread (without it, this waits 10 s and fails).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .expect("runtime");
        let ran = rt.block_on(async {
            tokio::spawn(async {
                let (tx, rx) = std::sync::mpsc::channel();
                // Queued on this (the only) worker.
                tokio::spawn(async move { tx.send(()).expect("receiver") });
                write(|| rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok())
            })
            .await
            .expect("task")
        });
        assert!(
            ran,
            "a task queued on the writing worker ran while it wrote"
        );
    }
}
