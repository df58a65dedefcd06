//! What a task's `init` prepared, handed to its `run` once.

use std::sync::{Mutex, PoisonError};

use crate::error::{Error, Result};

/// What `init` prepared (bound listeners, a router) for `run` to take:
/// servers bind in `init`, so a port in use stops the start, and serve in
/// `run`.
#[derive(Debug)]
pub struct Handoff<T>(Mutex<Option<T>>);

impl<T> Default for Handoff<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T> Handoff<T> {
    /// Puts what `init` prepared (replacing anything left).
    pub fn put(&mut self, value: T) {
        *self.0.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    /// Takes it in `run`; fails with [`Error::NotPrepared`] naming `task`
    /// when `init` prepared nothing or `run` already took it.
    pub fn take(&self, task: &str) -> Result<T> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| Error::NotPrepared(task.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_put_is_taken_once() {
        let mut handoff = Handoff::default();
        handoff.put(7);
        assert_eq!(handoff.take("T").ok(), Some(7));
        assert!(matches!(handoff.take("T"), Err(Error::NotPrepared(task)) if task == "T"));
    }
}
