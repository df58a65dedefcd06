//! Every option of a service, parsed once from the command line and
//! changeable by name while the service runs.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Command;
use tokio::sync::watch;

use super::config::{ConfigError, ConfigFile, FileTable, FileValue, NOT_IN_FILE};
use super::group::{AnyOptions, GroupBuilder, OptionGroup, OptionSource, OptionsDef, one_line};
use super::service::{LIVE_SERVICE_OPTIONS, ServiceOptions};
use crate::error::{Error, Result};

/// The outcome of parsing a command line that is not a set of options.
#[derive(Debug)]
pub(crate) enum CliExit {
    /// `--help` or `--version`: print this and exit 0.
    Info(String),
    /// A bad command line: print this one-line reason and exit 2.
    Usage(String),
}

/// What reading the config file again changed.
#[derive(Debug, Default)]
pub(crate) struct Reloaded {
    /// The options set anew (or back to their default).
    pub(crate) applied: Vec<String>,
    /// Options whose change was refused, and why (one read at start only,
    /// a value that does not parse).
    pub(crate) refused: Vec<(String, String)>,
}

/// Who owns a group of options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The service's own options.
    Service,
    /// A task, by name.
    Task(String),
}

#[derive(Debug)]
struct Entry {
    owner: Owner,
    group: OptionGroup,
    /// Tasks watch this to see changes without a restart.
    tx: watch::Sender<AnyOptions>,
}

/// A task's options as the store needs them.
#[derive(Debug)]
pub(crate) struct TaskOptionsDecl<'a> {
    pub(crate) name: &'a str,
    pub(crate) prefix: &'a str,
    pub(crate) def: &'a OptionsDef,
}

/// The option store of a service.
#[derive(Debug)]
pub(crate) struct OptionStore {
    entries: Vec<Entry>,
    command: Command,
    /// The config file as last read well.
    config: Option<ConfigFile>,
}

/// `MyService` becomes `MYSERVICE`, the prefix of its environment variables.
pub(crate) fn env_prefix(service: &str) -> String {
    service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl OptionStore {
    /// Builds the service's command line from its own options and its tasks'.
    pub(crate) fn new(
        service: &str,
        version: Option<&str>,
        tasks: &[TaskOptionsDecl<'_>],
    ) -> Result<Self> {
        let env = env_prefix(service);
        let service_def = OptionsDef::of::<ServiceOptions>(vec![]);
        let mut command = Command::new(service.to_owned())
            .about(format!("The {service} service."))
            .after_help(format!(
                "Every option can also be set through the environment variable shown with it \
                 ({env}_<OPTION NAME>)."
            ))
            .max_term_width(100);
        if let Some(version) = version {
            command = command.version(version.to_owned());
        }
        let mut entries = Vec::new();
        let groups = std::iter::once((Owner::Service, "Service options", "", &service_def)).chain(
            tasks
                .iter()
                .map(|t| (Owner::Task(t.name.to_owned()), t.name, t.prefix, t.def)),
        );
        for (owner, heading, prefix, def) in groups {
            let (group, args) = GroupBuilder {
                def,
                heading,
                prefix,
                env_prefix: &env,
            }
            .build()?;
            for arg in &args {
                if command.get_arguments().any(|a| a.get_id() == arg.get_id()) {
                    return Err(Error::DuplicateTask {
                        what: "option",
                        value: arg.get_id().to_string(),
                    });
                }
            }
            command = command.args(args);
            let (tx, _) = watch::channel(group.current());
            entries.push(Entry { owner, group, tx });
        }
        let command = command.mut_arg("pidfile", |a| {
            a.help(format!(
                "The pidfile, locked while the service runs [default: /var/run/{service}.pid]"
            ))
        });
        Ok(Self {
            entries,
            command,
            config: None,
        })
    }

    /// Parses a command line (the first item is the program name).
    pub(crate) fn parse<I, T>(&mut self, argv: I) -> Result<(), CliExit>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = match self.command.clone().try_get_matches_from(argv) {
            Ok(m) => m,
            Err(e) => {
                use clap::error::ErrorKind;
                return Err(match e.kind() {
                    ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                        CliExit::Info(e.render().to_string())
                    }
                    _ => CliExit::Usage(one_line(&e)),
                });
            }
        };
        let config = match matches.get_one::<PathBuf>("config") {
            Some(path) => Some(
                ConfigFile::load(path, &self.file_tables())
                    .map_err(|e| CliExit::Usage(e.to_string()))?,
            ),
            None => None,
        };
        for entry in &mut self.entries {
            entry
                .group
                .take_matches(&matches, config.as_ref())
                .map_err(|e| CliExit::Usage(e.to_string()))?;
            entry.tx.send_replace(entry.group.current());
        }
        self.config = config;
        if self.service().generate_config {
            return Err(CliExit::Info(self.generate_config()));
        }
        Ok(())
    }

    /// Every group's options as a config file names them.
    fn file_tables(&self) -> Vec<FileTable> {
        self.entries.iter().map(|e| e.group.file_table()).collect()
    }

    /// A complete, commented config file of every option with its current
    /// value (`--generate-config`).
    pub(crate) fn generate_config(&self) -> String {
        let mut out = String::from(
            "# Every option of this service with its current value. Options the\n\
             # command line or the environment give take precedence over this file.\n\n",
        );
        // The top level first: a key after a table's header is the table's.
        let (top, tables): (Vec<&Entry>, Vec<&Entry>) =
            self.entries.iter().partition(|e| e.group.is_top_level());
        for entry in top.into_iter().chain(tables) {
            entry.group.write_config(&mut out, NOT_IN_FILE);
        }
        out
    }

    /// Where each option's current value came from.
    pub(crate) fn sources(&self) -> BTreeMap<String, OptionSource> {
        self.entries
            .iter()
            .flat_map(|e| e.group.sources().map(|(n, s)| (n.to_owned(), s)))
            .collect()
    }

    /// Reads the config file again and applies the values that changed in
    /// it, as a run-time change would (a value the command line or the
    /// environment gives stays). Returns what was applied and, per option,
    /// why a change was not. A file that does not parse changes nothing.
    pub(crate) fn reload_config(&mut self) -> Result<Reloaded, ConfigError> {
        let Some(old) = self.config.take() else {
            return Ok(Reloaded::default());
        };
        let loaded = ConfigFile::load(&old.path, &self.file_tables());
        let new = match loaded {
            Ok(new) => new,
            Err(e) => {
                self.config = Some(old);
                return Err(e);
            }
        };
        let sources = self.sources();
        let names: BTreeSet<&String> = old.values.keys().chain(new.values.keys()).collect();
        let changes: Vec<(String, Option<&FileValue>)> = names
            .into_iter()
            .filter(|name| {
                let (before, after) = (old.values.get(*name), new.values.get(*name));
                let source = sources.get(*name).copied().unwrap_or(OptionSource::Default);
                before.map(|v| &v.values) != after.map(|v| &v.values)
                    && !matches!(
                        source,
                        OptionSource::CommandLine | OptionSource::Environment
                    )
                    && (after.is_some() || source == OptionSource::File)
            })
            .map(|name| (name.clone(), new.values.get(name)))
            .collect();
        // Every new value must parse before any is applied: a file that
        // does not read changes nothing.
        for (name, value) in &changes {
            let Some(value) = value else { continue };
            let check = self
                .entries
                .iter()
                .find(|e| e.group.has(name))
                .map(|e| e.group.check_values(name, value.values.clone()));
            if let Some(Err(reason)) = check {
                let e = ConfigError {
                    path: new.path.clone(),
                    line: value.line,
                    key: Some(value.key.clone()),
                    reason,
                };
                self.config = Some(old);
                return Err(e);
            }
        }
        let mut reloaded = Reloaded::default();
        for (name, value) in changes {
            let outcome = match value {
                Some(value) => self.set_from_file(&name, value.values.clone()),
                None => self.unset(&name),
            };
            match outcome {
                Ok(()) => reloaded.applied.push(name),
                Err(e) => reloaded.refused.push((name, e.to_string())),
            }
        }
        self.config = Some(new);
        Ok(reloaded)
    }

    /// The service's own options.
    pub(crate) fn service(&self) -> Arc<ServiceOptions> {
        self.entries
            .iter()
            .find(|e| e.owner == Owner::Service)
            .and_then(|e| e.group.current().downcast::<ServiceOptions>().ok())
            .unwrap_or_else(|| unreachable!("the service group is always first and typed"))
    }

    /// A receiver of a task's parsed options.
    pub(crate) fn watch(&self, owner: &Owner) -> Option<watch::Receiver<AnyOptions>> {
        self.entries
            .iter()
            .find(|e| &e.owner == owner)
            .map(|e| e.tx.subscribe())
    }

    /// Every option name, service options first, then each task's.
    pub(crate) fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| e.group.names().map(str::to_owned))
            .collect()
    }

    /// The current value of one option as text (`None`: no value, no default).
    pub(crate) fn get(&self, name: &str) -> Result<Option<String>> {
        self.entries
            .iter()
            .find_map(|e| e.group.value(name))
            .ok_or_else(|| Error::UnknownOption(name.to_owned()))
    }

    /// Every option with its current value.
    pub(crate) fn all(&self) -> BTreeMap<String, Option<String>> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.group
                    .names()
                    .map(|n| (n.to_owned(), e.group.value(n).flatten()))
            })
            .collect()
    }

    /// Sets one option by name; a bad value or an unknown name changes nothing.
    pub(crate) fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let entry = self.live_entry(name)?;
        let parsed = entry.group.set(name, value)?;
        entry.tx.send_replace(parsed);
        Ok(())
    }

    /// Sets one option to the values a config file gives it.
    fn set_from_file(&mut self, name: &str, values: Vec<String>) -> Result<()> {
        let entry = self.live_entry(name)?;
        let parsed = entry
            .group
            .set_values(name, Some(values), OptionSource::File)?;
        entry.tx.send_replace(parsed);
        Ok(())
    }

    /// Returns one option to its default.
    fn unset(&mut self, name: &str) -> Result<()> {
        let entry = self.live_entry(name)?;
        let parsed = entry.group.set_values(name, None, OptionSource::Default)?;
        entry.tx.send_replace(parsed);
        Ok(())
    }

    /// The entry holding option `name`, if it may change while the
    /// service runs.
    fn live_entry(&mut self, name: &str) -> Result<&mut Entry> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.group.has(name))
            .ok_or_else(|| Error::UnknownOption(name.to_owned()))?;
        if entry.owner == Owner::Service && !LIVE_SERVICE_OPTIONS.contains(&name) {
            return Err(Error::ReadOnlyOption(name.to_owned()));
        }
        Ok(entry)
    }
}
