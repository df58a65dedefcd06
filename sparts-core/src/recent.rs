//! A thread's few recent lookups, kept at hand: the requests of a
//! keep-alive connection mostly ask for the same things again (a route, a
//! series), and find them here without the shared structure behind.

/// The last `N` values kept, the oldest replaced first, found by a
/// predicate. Made to sit in a `thread_local!` (`const`-constructible), so
/// that looking a value up writes nothing another thread reads.
///
/// ```
/// use sparts_core::server::RecentRing;
///
/// let mut seen: RecentRing<(&str, u32), 2> = RecentRing::new();
/// seen.keep(("/", 1));
/// seen.keep(("/items", 2));
/// seen.keep(("/users", 3)); // replaces ("/", 1)
/// assert_eq!(seen.find(|(path, _)| *path == "/items"), Some(&("/items", 2)));
/// assert_eq!(seen.find(|(path, _)| *path == "/"), None);
/// ```
#[derive(Debug)]
pub struct RecentRing<T, const N: usize> {
    values: [Option<T>; N],
    /// The slot the next value replaces.
    next: usize,
}

impl<T, const N: usize> RecentRing<T, N> {
    /// An empty ring.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            values: [const { None }; N],
            next: 0,
        }
    }

    /// The first value kept that satisfies `wanted`.
    // Inlined: it sits on the request path, where the call and the closure
    // cost more than the few comparisons.
    #[inline]
    pub fn find(&self, wanted: impl Fn(&T) -> bool) -> Option<&T> {
        self.values.iter().flatten().find(|value| wanted(value))
    }

    /// Keeps `value` in place of the oldest one.
    #[inline]
    pub fn keep(&mut self, value: T) {
        if N == 0 {
            return;
        }
        self.values[self.next] = Some(value);
        self.next = (self.next + 1) % N;
    }
}

impl<T, const N: usize> Default for RecentRing<T, N> {
    fn default() -> Self {
        Self::new()
    }
}
