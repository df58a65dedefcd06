//! The config file (`--config FILE`, TOML): the third source of every
//! option, below the command line and the environment, above the
//! registration's and the type's defaults. The service's options are at
//! the top level, each task's in a table named by its prefix:
//!
//! ```toml
//! level = "info"
//! shutdown_timeout = 10
//! [http]
//! port = 8080
//! ```
//!
//! A value is turned into the text the command line would have given
//! (`10`, `true`, a string as it is; an array for an option that takes
//! several values) and goes through the same parser. Every error names
//! the file, the line and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// Options never read from a file: actions on a running daemon, and the
/// file itself.
pub(crate) const NOT_IN_FILE: &[&str] = &[
    "config",
    "generate_config",
    "kill",
    "status",
    "print_systemd_unit",
    "install_systemd",
    "user",
    "systemd_dir",
    "runit_install",
    "runit_dir",
    "force",
];

/// One option as a config file spells it.
#[derive(Debug, Clone)]
pub(crate) struct FileKey {
    /// The option's public name (`http_port`).
    pub(crate) name: String,
    /// Its key inside its table (`port`).
    pub(crate) key: String,
    /// Whether it takes several values (an array in the file).
    pub(crate) is_list: bool,
}

/// The options of one table: the service's (prefix `""`, the top level) or
/// a task's.
#[derive(Debug, Clone)]
pub(crate) struct FileTable {
    pub(crate) prefix: String,
    pub(crate) keys: Vec<FileKey>,
}

/// One option's value read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileValue {
    /// The values as command-line text.
    pub(crate) values: Vec<String>,
    /// The line it is on (1-based).
    pub(crate) line: usize,
    /// The key as a reader finds it: `port` in `[http]`.
    pub(crate) key: String,
}

/// A config file, read and checked against the service's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigFile {
    pub(crate) path: PathBuf,
    /// By option name.
    pub(crate) values: BTreeMap<String, FileValue>,
}

/// Why a config file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    pub(crate) path: PathBuf,
    /// 0 when the whole file is at fault (it cannot be read).
    pub(crate) line: usize,
    pub(crate) key: Option<String>,
    pub(crate) reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config file {}", self.path.display())?;
        if self.line > 0 {
            write!(f, ", line {}", self.line)?;
        }
        if let Some(key) = &self.key {
            write!(f, ", {key}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl ConfigFile {
    /// Reads `path` and checks every key against `tables`.
    pub(crate) fn load(path: &Path, tables: &[FileTable]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            line: 0,
            key: None,
            reason: format!("cannot be read: {e}"),
        })?;
        let mut file = Self::parse(path, &text, tables)?;
        // Absolute, so that a restart reads the same file after `--daemon`
        // has changed to `/`.
        if let Ok(absolute) = std::path::absolute(path) {
            file.path = absolute;
        }
        Ok(file)
    }

    /// Checks `text`, the contents of `path`, against `tables`.
    pub(crate) fn parse(
        path: &Path,
        text: &str,
        tables: &[FileTable],
    ) -> Result<Self, ConfigError> {
        let mut reader = Reader {
            path,
            newlines: text.match_indices('\n').map(|(i, _)| i).collect(),
            values: BTreeMap::new(),
        };
        let root = DeTable::parse(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            reader.error(offset, None, first_line(e.message()))
        })?;
        // The service's options, and those of any task without a prefix.
        let top = FileTable {
            prefix: String::new(),
            keys: tables
                .iter()
                .filter(|t| t.prefix.is_empty())
                .flat_map(|t| t.keys.iter().cloned())
                .collect(),
        };
        let top = &top;
        for (key, value) in root.get_ref() {
            let name = key.get_ref().replace('-', "_");
            match value.get_ref() {
                DeValue::Table(table) if !top.keys.iter().any(|k| k.key == name) => {
                    let task = find_table(tables, &name).map_err(|reason| {
                        reader.error(key.span().start, Some(format!("[{name}]")), reason)
                    })?;
                    for (key, value) in table {
                        reader.read(task, &format!("[{name}] "), key, value)?;
                    }
                }
                _ => reader.read(top, "", key, value)?,
            }
        }
        Ok(Self {
            path: path.to_owned(),
            values: reader.values,
        })
    }
}

/// A key of the file's as it is parsed.
type Key<'i> = toml::Spanned<toml::de::DeString<'i>>;

/// Reads a file's keys into option values.
struct Reader<'a> {
    path: &'a Path,
    /// Where each line ends, to turn an offset into a line number.
    newlines: Vec<usize>,
    values: BTreeMap<String, FileValue>,
}

impl Reader<'_> {
    fn error(&self, offset: usize, key: Option<String>, reason: String) -> ConfigError {
        ConfigError {
            path: self.path.to_owned(),
            line: self.line_of(offset),
            key,
            reason,
        }
    }

    /// The 1-based line of byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&end| end < offset) + 1
    }

    /// Reads `key = value` of `table`, shown in errors after `shown`
    /// (`[http] `, or nothing at the top level).
    fn read(
        &mut self,
        table: &FileTable,
        shown: &str,
        key: &Key<'_>,
        value: &toml::Spanned<DeValue<'_>>,
    ) -> Result<(), ConfigError> {
        let written = format!("{shown}{}", key.get_ref());
        let found = find_key(table, key.get_ref(), shown)
            .map_err(|reason| self.error(key.span().start, Some(written.clone()), reason))?;
        let values = texts(value.get_ref(), found.is_list)
            .map_err(|reason| self.error(value.span().start, Some(written.clone()), reason))?;
        let line = self.line_of(key.span().start);
        self.values.insert(
            found.name.clone(),
            FileValue {
                values,
                line,
                key: written,
            },
        );
        Ok(())
    }
}

/// The task table of prefix `name`.
fn find_table<'t>(tables: &'t [FileTable], name: &str) -> Result<&'t FileTable, String> {
    let tasks = tables.iter().filter(|t| !t.prefix.is_empty());
    let same = |prefix: &str| {
        prefix.len() == name.len()
            && prefix
                .bytes()
                .zip(name.bytes())
                .all(|(p, n)| p == n || (p == b'-' && n == b'_'))
    };
    if let Some(found) = tasks.clone().find(|t| same(&t.prefix)) {
        return Ok(found);
    }
    let known: Vec<&str> = tasks.map(|t| t.prefix.as_str()).collect();
    Err(format!(
        "no task has the prefix {name}{}",
        suggest(name, &known)
    ))
}

/// The option `key` names in `table`, `-` and `_` alike.
fn find_key<'t>(table: &'t FileTable, key: &str, shown: &str) -> Result<&'t FileKey, String> {
    let wanted = key.replace('-', "_");
    if table.prefix.is_empty() && NOT_IN_FILE.contains(&wanted.as_str()) {
        return Err(format!("{wanted} cannot be set in a config file"));
    }
    table.keys.iter().find(|k| k.key == wanted).ok_or_else(|| {
        let known: Vec<&str> = table.keys.iter().map(|k| k.key.as_str()).collect();
        format!("no option {shown}{wanted}{}", suggest(&wanted, &known))
    })
}

/// `; did you mean X?` for the known name closest to `wanted`, if one is
/// close.
fn suggest(wanted: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(wanted, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or_else(String::new, |(_, k)| format!("; did you mean {k}?"))
}

/// A value as command-line text: one for a plain option, one per element
/// for one that takes several.
fn texts(value: &DeValue<'_>, is_list: bool) -> Result<Vec<String>, String> {
    match value {
        DeValue::Array(items) if is_list => items.iter().map(|i| scalar(i.get_ref())).collect(),
        DeValue::Array(_) => Err("expects one value, not an array".to_owned()),
        other => Ok(vec![scalar(other)?]),
    }
}

/// A string, number or boolean as the command line would give it: integers
/// in decimal whatever their base in the file.
fn scalar(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Boolean(b) => Ok(b.to_string()),
        DeValue::Integer(n) => i128::from_str_radix(n.as_str(), n.radix())
            .map(|n| n.to_string())
            .map_err(|e| format!("integer {}: {e}", n.as_str())),
        DeValue::Float(x) => Ok(x.as_str().to_owned()),
        DeValue::Datetime(d) => Err(format!(
            "expects a string, number or boolean, not the date {d}; quote it to give it as text"
        )),
        DeValue::Array(_) => Err("expects a string, number or boolean, not an array".to_owned()),
        DeValue::Table(_) => Err("expects a string, number or boolean, not a table".to_owned()),
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_owned()
}
