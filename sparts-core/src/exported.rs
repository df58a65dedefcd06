//! Exported values: string key/values a service publishes (fb303's
//! "exported values"), readable by every transport.

use std::collections::BTreeMap;
use std::sync::RwLock;

use regex::Regex;

use crate::error::{Error, Result};

/// The exported values of a service.
#[derive(Debug, Default)]
pub(crate) struct ExportedValues {
    values: RwLock<BTreeMap<String, String>>,
}

impl ExportedValues {
    pub(crate) fn set(&self, key: &str, value: Option<&str>) {
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        match value {
            Some(v) => {
                values.insert(key.to_owned(), v.to_owned());
            }
            None => {
                values.remove(key);
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> String {
        self.read().get(key).cloned().unwrap_or_default()
    }

    pub(crate) fn all(&self) -> BTreeMap<String, String> {
        self.read().clone()
    }

    pub(crate) fn matching(&self, pattern: &str) -> Result<BTreeMap<String, String>> {
        let re = Regex::new(pattern).map_err(|source| Error::InvalidPattern {
            pattern: pattern.to_owned(),
            source,
        })?;
        Ok(self
            .read()
            .iter()
            .filter(|(k, _)| re.is_match(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    pub(crate) fn selected<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, String> {
        let values = self.read();
        keys.into_iter()
            .map(|k| (k.to_owned(), values.get(k).cloned().unwrap_or_default()))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, String>> {
        // The map stays consistent even if a writer panicked mid-way.
        self.values.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_unset_regex_and_selected() {
        let v = ExportedValues::default();
        v.set("build.rev", Some("abc"));
        v.set("build.host", Some("h1"));
        v.set("mode", Some("fast"));
        assert_eq!(v.get("build.rev"), "abc");
        assert_eq!(v.get("missing"), "", "a missing key reads as empty");
        v.set("mode", None);
        assert_eq!(v.all().len(), 2);
        let m = v.matching(r"^build\.").expect("valid regex");
        assert_eq!(m.keys().collect::<Vec<_>>(), ["build.host", "build.rev"]);
        assert!(matches!(v.matching("("), Err(Error::InvalidPattern { .. })));
        let s = v.selected(["build.rev", "nope"]);
        assert_eq!(s.get("build.rev").map(String::as_str), Some("abc"));
        assert_eq!(s.get("nope").map(String::as_str), Some(""));
    }
}
