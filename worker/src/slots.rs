//! The worker's delivery slots: how many attempts may run at once. A semaphore whose size
//! follows `worker.concurrency` when the config is reloaded, without ever letting more attempts
//! start than the current number.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots; cheap to clone (clones share them).
#[derive(Clone)]
pub struct Slots {
    semaphore: Arc<Semaphore>,
    count: Arc<Mutex<Count>>,
}

/// How many slots the config asks for, and how many busy ones are to be retired when their
/// attempts finish (a lower number found them busy).
#[derive(Debug, Clone, Copy)]
struct Count {
    size: u32,
    retiring: u32,
}

/// A busy slot. Dropping it (once its attempt's outcome is stored) gives it back, or retires it
/// when the number of slots was lowered meanwhile.
pub struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    count: Arc<Mutex<Count>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else { return };
        // Under the lock, so a resize sees this slot either busy or free, never both.
        let mut count = lock(&self.count);
        if count.retiring > 0 {
            count.retiring -= 1;
            permit.forget();
        } else {
            drop(permit);
        }
    }
}

fn lock(count: &Mutex<Count>) -> MutexGuard<'_, Count> {
    count.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A slot count the semaphore can hold (the schema already bounds it to 1..=10000).
fn clamp(size: usize) -> u32 {
    size.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32
}

impl Slots {
    /// `size` free slots.
    pub fn new(size: usize) -> Self {
        let size = clamp(size);
        Slots {
            semaphore: Arc::new(Semaphore::new(size as usize)),
            count: Arc::new(Mutex::new(Count { size, retiring: 0 })),
        }
    }

    /// Sets the number of slots to `wanted`; the old and new numbers when it changed. Growing
    /// first cancels retirements still pending, then adds free slots. Shrinking removes free
    /// slots at once and marks the rest of the surplus to be retired as their attempts finish.
    pub fn resize(&self, wanted: usize) -> Option<(u32, u32)> {
        let wanted = clamp(wanted);
        let mut count = lock(&self.count);
        let old = count.size;
        if wanted > old {
            let more = wanted - old;
            let kept = more.min(count.retiring);
            count.retiring -= kept;
            self.semaphore.add_permits((more - kept) as usize);
        } else if wanted < old {
            let fewer = old - wanted;
            let removed = self.semaphore.forget_permits(fewer as usize) as u32;
            count.retiring += fewer - removed;
        } else {
            return None;
        }
        count.size = wanted;
        Some((old, wanted))
    }

    /// Takes up to `wanted` of the slots free now, without waiting.
    pub fn take_free(&self, wanted: usize) -> Vec<Slot> {
        let mut taken = Vec::new();
        while taken.len() < wanted {
            let Ok(permit) = self.semaphore.clone().try_acquire_owned() else { break };
            taken.push(Slot { permit: Some(permit), count: self.count.clone() });
        }
        taken
    }

    /// Slots free now.
    pub fn free(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// Slots busy now, including those to be retired.
    pub fn in_flight(&self) -> usize {
        let count = *lock(&self.count);
        ((count.size + count.retiring) as usize).saturating_sub(self.free())
    }

    /// Waits until every slot is free, or `timeout` passes; true when all are. (Slots being
    /// retired are forgotten as they come back, so this waits for exactly the current number.)
    pub async fn drain(&self, timeout: Duration) -> bool {
        let size = lock(&self.count).size;
        tokio::time::timeout(timeout, self.semaphore.acquire_many(size)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn growing_frees_slots_at_once() {
        let slots = Slots::new(2);
        let busy = slots.take_free(usize::MAX);
        assert_eq!((slots.free(), slots.in_flight()), (0, 2));
        assert_eq!(slots.resize(5), Some((2, 5)));
        assert_eq!((slots.free(), slots.in_flight()), (3, 2));
        assert_eq!(slots.resize(5), None);
        drop(busy);
        assert_eq!(slots.free(), 5);
        assert!(slots.drain(Duration::from_secs(1)).await);
    }

    #[tokio::test]
    async fn shrinking_removes_free_slots_then_retires_busy_ones_as_they_finish() {
        let slots = Slots::new(4);
        let mut busy = slots.take_free(3);
        // 3 busy, 1 free; down to 1: the free one goes now, two busy ones retire later.
        assert_eq!(slots.resize(1), Some((4, 1)));
        assert_eq!((slots.free(), slots.in_flight()), (0, 3));
        busy.pop();
        assert_eq!((slots.free(), slots.in_flight()), (0, 2), "first finished slot retired");
        busy.pop();
        assert_eq!((slots.free(), slots.in_flight()), (0, 1), "second finished slot retired");
        busy.pop();
        assert_eq!((slots.free(), slots.in_flight()), (1, 0), "the one slot left comes back");
        let again = slots.take_free(usize::MAX);
        assert_eq!(again.len(), 1, "never more than the new number");
    }

    #[tokio::test]
    async fn growing_while_slots_retire_cancels_the_retirement_first() {
        let slots = Slots::new(3);
        let busy = slots.take_free(usize::MAX);
        assert_eq!(slots.resize(1), Some((3, 1)));
        assert_eq!(slots.resize(4), Some((1, 4)));
        // Two retirements cancelled, one slot added: 3 busy, 1 free, nothing retired later.
        assert_eq!((slots.free(), slots.in_flight()), (1, 3));
        drop(busy);
        assert_eq!(slots.free(), 4);
    }

    #[tokio::test]
    async fn drain_waits_for_the_busy_slots_after_a_shrink() {
        let slots = Slots::new(3);
        let mut busy = slots.take_free(usize::MAX);
        slots.resize(2);
        assert!(!slots.drain(Duration::from_millis(50)).await, "three still busy");
        let last = busy.pop().expect("slot");
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move { slots.drain(Duration::from_secs(5)).await }
        });
        drop(busy);
        drop(last);
        assert!(waiter.await.expect("join"));
    }
}
