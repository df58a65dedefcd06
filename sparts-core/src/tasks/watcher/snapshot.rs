//! What the watched directory holds, and what changed between two looks at it.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::path::Path;

/// The entries of the directory by name, with their metadata as last reported.
pub(super) type Entries = BTreeMap<OsString, Metadata>;

/// One change to report, in the order the callbacks run.
#[derive(Debug)]
pub(super) enum Change {
    Deleted(OsString, Metadata),
    Changed(OsString, Metadata, Metadata),
    Created(OsString, Metadata),
}

/// Which directory a path names: a directory replaced under the same path
/// (removed and created again, or another one renamed there) has another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RootId(#[cfg(unix)] (u64, u64));

/// Reads the whole directory: its identity, and every entry with its own
/// metadata (symlinks are not followed). Blocking.
///
/// An entry that vanishes between the listing and its `lstat` is left out;
/// any other error means the directory cannot be watched, and is returned.
pub(super) fn scan(root: &Path) -> io::Result<(RootId, Entries)> {
    let id = root_id(&std::fs::metadata(root)?);
    let mut entries = Entries::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        match entry.metadata() {
            Ok(meta) => {
                entries.insert(entry.file_name(), meta);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok((id, entries))
}

/// Looks at some entries again. `None`: the entry is gone. Blocking.
///
/// An error other than "not found" means the directory itself is in
/// trouble (unreadable, gone with its parent); it is returned so that the
/// caller scans the whole directory and finds out.
pub(super) fn stat_names(
    root: &Path,
    names: Vec<OsString>,
) -> io::Result<Vec<(OsString, Option<Metadata>)>> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match std::fs::symlink_metadata(root.join(&name)) {
            Ok(meta) => out.push((name, Some(meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => out.push((name, None)),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Applies what was seen of some entries to `known` and returns the changes,
/// deletions first, then changes, then creations (a rename within the
/// directory is the old name's deletion, then the new name's creation).
pub(super) fn apply(
    known: &mut Entries,
    seen: impl IntoIterator<Item = (OsString, Option<Metadata>)>,
) -> Vec<Change> {
    let mut deleted = Vec::new();
    let mut changed = Vec::new();
    let mut created = Vec::new();
    for (name, now) in seen {
        match (known.remove(&name), now) {
            (None, None) => {}
            (None, Some(new)) => {
                known.insert(name.clone(), new.clone());
                created.push(Change::Created(name, new));
            }
            (Some(old), None) => deleted.push(Change::Deleted(name, old)),
            (Some(old), Some(new)) => {
                known.insert(name.clone(), new.clone());
                if !same_entry(&old, &new) {
                    // Replaced under the same name (renamed over, or deleted
                    // and created again between two looks): a new file.
                    deleted.push(Change::Deleted(name.clone(), old));
                    created.push(Change::Created(name, new));
                } else if differs(&old, &new) {
                    changed.push(Change::Changed(name, old, new));
                }
            }
        }
    }
    deleted.extend(changed);
    deleted.extend(created);
    deleted
}

/// Replaces `known` with a full scan and returns the changes.
pub(super) fn apply_scan(known: &mut Entries, mut scanned: Entries) -> Vec<Change> {
    let names: BTreeSet<OsString> = known.keys().chain(scanned.keys()).cloned().collect();
    let seen: Vec<_> = names
        .into_iter()
        .map(|name| {
            let now = scanned.remove(&name);
            (name, now)
        })
        .collect();
    apply(known, seen)
}

/// Every known entry as deleted, leaving `known` empty.
pub(super) fn delete_all(known: &mut Entries) -> Vec<Change> {
    std::mem::take(known)
        .into_iter()
        .map(|(name, meta)| Change::Deleted(name, meta))
        .collect()
}

#[cfg(unix)]
fn root_id(meta: &Metadata) -> RootId {
    use std::os::unix::fs::MetadataExt;
    RootId((meta.dev(), meta.ino()))
}

/// Whether two looks at a name see the same file (not a replacement).
#[cfg(unix)]
fn same_entry(old: &Metadata, new: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    old.dev() == new.dev() && old.ino() == new.ino() && old.file_type() == new.file_type()
}

/// Whether a file changed in a way worth reporting: its data (size, mtime),
/// its metadata (mode, owner, ctime). Access times are ignored: reading a
/// file is not a change. For a subdirectory only mode and owner count,
/// since what happens inside it is not watched (its times move with its
/// contents).
#[cfg(unix)]
fn differs(old: &Metadata, new: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    if (old.mode(), old.uid(), old.gid()) != (new.mode(), new.uid(), new.gid()) {
        return true;
    }
    !new.is_dir()
        && (
            old.size(),
            old.mtime(),
            old.mtime_nsec(),
            old.ctime(),
            old.ctime_nsec(),
        ) != (
            new.size(),
            new.mtime(),
            new.mtime_nsec(),
            new.ctime(),
            new.ctime_nsec(),
        )
}

#[cfg(not(unix))]
fn root_id(_: &Metadata) -> RootId {
    RootId()
}

#[cfg(not(unix))]
fn same_entry(old: &Metadata, new: &Metadata) -> bool {
    old.file_type() == new.file_type()
}

#[cfg(not(unix))]
fn differs(old: &Metadata, new: &Metadata) -> bool {
    old.permissions() != new.permissions()
        || (!new.is_dir() && (old.len(), old.modified().ok()) != (new.len(), new.modified().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Deleted(n, _) => format!("deleted {}", n.to_string_lossy()),
                Change::Changed(n, _, _) => format!("changed {}", n.to_string_lossy()),
                Change::Created(n, _) => format!("created {}", n.to_string_lossy()),
            })
            .collect()
    }

    #[test]
    fn scans_report_deletions_then_changes_then_creations() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a"), "1")?;
        std::fs::write(dir.path().join("b"), "1")?;
        std::fs::write(dir.path().join("c"), "1")?;
        let mut known = scan(dir.path())?.1;

        std::fs::write(dir.path().join("0"), "new")?;
        std::fs::remove_file(dir.path().join("c"))?;
        std::fs::write(dir.path().join("b"), "longer")?;
        let changes = apply_scan(&mut known, scan(dir.path())?.1);
        assert_eq!(kinds(&changes), ["deleted c", "changed b", "created 0"]);
        assert_eq!(known.len(), 3);
        assert!(apply_scan(&mut known, scan(dir.path())?.1).is_empty());
        Ok(())
    }

    #[test]
    fn a_file_replaced_under_its_name_is_deleted_and_created() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a"), "old")?;
        std::fs::write(dir.path().join("b"), "new")?;
        let mut known = scan(dir.path())?.1;
        std::fs::rename(dir.path().join("b"), dir.path().join("a"))?;
        let seen = stat_names(dir.path(), vec!["a".into(), "b".into()])?;
        assert_eq!(
            kinds(&apply(&mut known, seen)),
            ["deleted a", "deleted b", "created a"]
        );
        Ok(())
    }

    #[test]
    fn reading_a_file_is_not_a_change() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a"), "data")?;
        let mut known = scan(dir.path())?.1;
        let _ = std::fs::read(dir.path().join("a"))?;
        let seen = stat_names(dir.path(), vec!["a".into(), "never".into()])?;
        assert!(apply(&mut known, seen).is_empty());
        Ok(())
    }

    #[test]
    fn a_subdirectory_is_one_entry() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("sub"))?;
        let mut known = scan(dir.path())?.1;
        std::fs::write(dir.path().join("sub").join("inner"), "x")?;
        assert!(apply_scan(&mut known, scan(dir.path())?.1).is_empty());
        assert_eq!(kinds(&delete_all(&mut known)), ["deleted sub"]);
        assert!(known.is_empty());
        Ok(())
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let err = scan(Path::new("/nonexistent/sparts-watcher-test")).map(|_| ());
        assert_eq!(
            err.map_err(|e| e.kind()),
            Err(io::ErrorKind::NotFound),
            "missing"
        );
    }
}
