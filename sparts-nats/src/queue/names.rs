//! What a queue is called on the server: its stream, subjects, consumer and
//! dead-letter stream, from the service's and the task's names.

/// The names of one queue's JetStream objects.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// `SPARTS_<Service>_<Task>`: the work-queue stream.
    pub(crate) stream: String,
    /// `sparts.<Service>.<Task>.items`: where fifo items go; a unique
    /// queue's items go one level below, named by their hash.
    pub(crate) items: String,
    /// `SPARTS_<Service>_<Task>_DEAD`.
    pub(crate) dead_stream: String,
    /// `sparts.<Service>.<Task>.dead`.
    pub(crate) dead: String,
}

/// The one durable consumer every replica pulls from.
pub(crate) const CONSUMER: &str = "workers";

impl Names {
    pub(crate) fn new(service: &str, task: &str) -> Self {
        let (service, task) = (token(service), token(task));
        Self {
            stream: format!("SPARTS_{service}_{task}"),
            items: format!("sparts.{service}.{task}.items"),
            dead_stream: format!("SPARTS_{service}_{task}_DEAD"),
            dead: format!("sparts.{service}.{task}.dead"),
        }
    }

    /// The subject of a unique queue's item: one stored copy per subject
    /// is what refuses a duplicate.
    pub(crate) fn unique_item(&self, payload: &[u8]) -> String {
        format!("{}.{:032x}", self.items, fnv1a_128(payload))
    }
}

/// A name usable as one subject token and in a stream's name.
fn token(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

/// A hash that every replica and every release computes alike (std's
/// hasher promises neither), wide enough that two different items never
/// meet in practice.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes.iter().fold(OFFSET, |hash, b| {
        (hash ^ u128::from(*b)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_tokens() {
        let names = Names::new("My Svc", "jobs.v2");
        assert_eq!(names.stream, "SPARTS_My_Svc_jobs_v2");
        assert_eq!(names.items, "sparts.My_Svc.jobs_v2.items");
        assert_eq!(names.dead_stream, "SPARTS_My_Svc_jobs_v2_DEAD");
    }

    #[test]
    fn unique_subjects_are_stable() {
        let names = Names::new("S", "Q");
        // Fixed forever: replicas of different releases must agree.
        assert_eq!(
            names.unique_item(b"42"),
            "sparts.S.Q.items.088094c785ab1be95aa073305569c06b"
        );
        assert_ne!(names.unique_item(b"42"), names.unique_item(b"43"));
    }
}
