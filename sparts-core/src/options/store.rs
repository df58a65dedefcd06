//! Every option of a service, parsed once from the command line and
//! changeable by name while the service runs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;

use clap::Command;
use tokio::sync::watch;

use super::group::{AnyOptions, GroupBuilder, OptionGroup, OptionsDef, one_line};
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
        Ok(Self { entries, command })
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
        for entry in &mut self.entries {
            entry
                .group
                .take_matches(&matches)
                .map_err(|e| CliExit::Usage(e.to_string()))?;
            entry.tx.send_replace(entry.group.current());
        }
        Ok(())
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
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.group.has(name))
            .ok_or_else(|| Error::UnknownOption(name.to_owned()))?;
        if entry.owner == Owner::Service && !LIVE_SERVICE_OPTIONS.contains(&name) {
            return Err(Error::ReadOnlyOption(name.to_owned()));
        }
        let parsed = entry.group.set(name, value)?;
        entry.tx.send_replace(parsed);
        Ok(())
    }
}
