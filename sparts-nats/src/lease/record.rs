//! What the lease's key holds, and the bucket it lives in.

use serde::{Deserialize, Serialize};

/// The key of the lease in its bucket.
pub(super) const KEY: &str = "leader";

/// The lease as JSON: who holds it, and the last tick claimed by any
/// holder. A released lease keeps its last tick and has no holder, so the
/// next leader neither waits for it to expire nor runs that tick again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) holder: Option<String>,
    pub(super) last_tick: Option<u64>,
}

impl Record {
    /// Held by `holder`.
    pub(super) fn held(holder: &str, last_tick: Option<u64>) -> Self {
        Self {
            holder: Some(holder.to_owned()),
            last_tick,
        }
    }

    /// Released.
    pub(super) fn released(last_tick: Option<u64>) -> Self {
        Self {
            holder: None,
            last_tick,
        }
    }

    pub(super) fn encode(&self) -> bytes::Bytes {
        // A struct of a string and a number always serializes.
        serde_json::to_vec(self).unwrap_or_default().into()
    }

    pub(super) fn decode(value: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(value)
    }
}

/// The bucket of one task's lease: `SPARTS_LEASE_<Service>_<Task>`, with
/// what a bucket name cannot hold replaced by `_`.
pub(super) fn bucket(service: &str, task: &str) -> String {
    let name = format!("SPARTS_LEASE_{service}_{task}");
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json() {
        let held = Record::held("h-1-ab", Some(7));
        assert_eq!(
            std::str::from_utf8(&held.encode()).ok(),
            Some(r#"{"holder":"h-1-ab","last_tick":7}"#)
        );
        let released = Record::decode(br#"{"holder":null,"last_tick":7}"#).ok();
        assert_eq!(released, Some(Record::released(Some(7))));
        assert!(Record::decode(b"garbage").is_err());
    }

    #[test]
    fn bucket_names_keep_only_what_nats_accepts() {
        assert_eq!(bucket("Svc", "Tick"), "SPARTS_LEASE_Svc_Tick");
        assert_eq!(
            bucket("my.svc", "Clean up/old"),
            "SPARTS_LEASE_my_svc_Clean_up_old"
        );
    }
}
