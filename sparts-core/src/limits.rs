//! Process limits a service raises at start.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// What raising the soft limit on open files did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Raised {
    /// The soft limit was already the hard one.
    Already(u64),
    /// Raised from `was` to `now`.
    From { was: u64, now: u64 },
    /// The kernel refused, and why.
    Refused(String),
}

/// Raises the soft limit on open files to the hard limit, as Go's runtime
/// does at start: every connection is a file, and a soft limit of 1,024
/// (the usual default, meant for interactive shells) makes a busy server
/// stop accepting while the system would allow far more.
pub(crate) fn raise_open_files() -> Raised {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => return Raised::Refused(e.to_string()),
    };
    if soft >= hard {
        return Raised::Already(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Raised::From {
            was: soft,
            now: hard,
        },
        Err(e) => Raised::Refused(e.to_string()),
    }
}

/// Logs what [`raise_open_files`] did, at debug: it is routine.
pub(crate) fn log(raised: &Raised) {
    match raised {
        Raised::Already(limit) => tracing::debug!("open-file limit: {limit}"),
        Raised::From { was, now } => {
            tracing::debug!("raised the open-file limit from {was} to {now}, the hard limit");
        }
        Raised::Refused(why) => {
            tracing::debug!("could not raise the open-file limit to the hard limit: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        raise_open_files();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("limits");
        assert_eq!(soft, hard);
        assert_eq!(raise_open_files(), Raised::Already(hard));
    }
}
