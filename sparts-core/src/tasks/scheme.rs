//! Choosing, by the scheme of a URL an option gives, one of the
//! implementations a task was offered: a queue's backend
//! (`--<prefix>-backend`), a periodic task's coordinator
//! (`--<prefix>-coordination`).

use std::sync::Arc;

use crate::error::Error;

/// What is being chosen, for the choice itself and its error.
pub(crate) struct Choice<'a> {
    /// The task, which the error names first.
    pub(crate) task: &'a str,
    /// The option as the error names it (`--backend`).
    pub(crate) flag: &'a str,
    /// What the implementations are (`backend`, `coordination`).
    pub(crate) what: &'a str,
    /// The value that asks for none of them (`memory`, `none`).
    pub(crate) local: &'a str,
}

impl Choice<'_> {
    /// The implementation `url`'s scheme names; `None` for the local value;
    /// an error listing the known schemes for any other.
    pub(crate) fn pick<'b, B: ?Sized>(
        &self,
        offered: &'b [Arc<B>],
        scheme_of: impl Fn(&B) -> &'static str,
        url: &str,
    ) -> Result<Option<&'b B>, Error> {
        if url == self.local {
            return Ok(None);
        }
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        if let Some(chosen) = offered.iter().find(|b| scheme_of(b) == scheme) {
            return Ok(Some(chosen.as_ref()));
        }
        let known: Vec<&str> = std::iter::once(self.local)
            .chain(offered.iter().map(|b| scheme_of(b)))
            .collect();
        let Self {
            task,
            flag,
            what,
            local,
        } = self;
        Err(Error::Backend(format!(
            "{task}: {flag} {url:?}: unknown {what} (known: {}); \
             a {what} other than {local} is given as <scheme>://…",
            known.join(", ")
        )))
    }
}
