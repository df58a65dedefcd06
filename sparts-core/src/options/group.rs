//! One task's options: its clap arguments under the task's prefix.

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use clap::builder::{BoolishValueParser, Resettable};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, Id};

use super::config::{ConfigError, ConfigFile, FileKey, FileTable};
use crate::error::{Error, Result};

/// A parsed options struct, type-erased so that one store holds every task's.
pub(crate) type AnyOptions = Arc<dyn Any + Send + Sync>;

/// Turns clap matches into the task's typed options struct.
pub(crate) type ParseFn = fn(&ArgMatches) -> Result<AnyOptions, clap::Error>;

/// What a task type says about its options, before any prefix is applied.
#[derive(Clone)]
pub(crate) struct OptionsDef {
    /// `T::augment_args`.
    pub(crate) augment: fn(Command) -> Command,
    /// `T::from_arg_matches`, boxed.
    pub(crate) parse: ParseFn,
    /// Defaults by argument id: the task type's (from its constants), then
    /// the registration's ([`TaskSpec::with_default`](crate::TaskSpec::with_default)).
    pub(crate) defaults: Vec<(Cow<'static, str>, String)>,
}

impl std::fmt::Debug for OptionsDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptionsDef")
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

impl OptionsDef {
    /// The definition for a clap `Args` struct.
    pub(crate) fn of<O: clap::Args + Send + Sync + 'static>(
        defaults: Vec<(&'static str, String)>,
    ) -> Self {
        Self {
            augment: O::augment_args,
            parse: |m| Ok(Arc::new(O::from_arg_matches(m)?) as AnyOptions),
            defaults: defaults
                .into_iter()
                .map(|(id, value)| (Cow::Borrowed(id), value))
                .collect(),
        }
    }
}

/// One argument of a group.
#[derive(Debug, Clone)]
struct OptionArg {
    /// The id inside the task's own struct (`port`).
    id: String,
    /// The public name (`http_port`): the id in the service's command and in
    /// the runtime store.
    name: String,
    /// The flag as the user types it (`--http-port`).
    long: String,
    /// The name inside the task's table of a config file (`port`).
    key: String,
    /// The help text, for a generated config file.
    help: Option<String>,
    /// Flags take no value on the command line but `true`/`false` at run time.
    is_flag: bool,
    /// Several values are given as several occurrences.
    is_append: bool,
    /// Several values in one occurrence are split on this.
    delimiter: Option<char>,
    /// The value used when nothing was given.
    default: Option<String>,
}

impl OptionArg {
    /// Whether it takes several values: an array in a config file.
    fn is_list(&self) -> bool {
        self.is_append || (self.delimiter.is_some() && !self.is_flag)
    }
}

/// A task's (or the service's) options, prefixed, with their current values.
pub(crate) struct OptionGroup {
    /// The task's name, used as the `--help` heading.
    heading: String,
    /// The arguments, in declaration order.
    args: Vec<OptionArg>,
    /// The task's own command with prefixed flags: every value goes through
    /// it, on the command line and at run time, so both validate the same.
    canonical: Command,
    parse: ParseFn,
    /// The prefix of its flags (`http`), its table in a config file.
    prefix: String,
    /// Values given explicitly (command line, environment, file, run time).
    explicit: BTreeMap<String, Vec<String>>,
    /// Where each explicit value came from, by id.
    sources: BTreeMap<String, OptionSource>,
    /// The parsed struct for the current values.
    current: AnyOptions,
}

impl std::fmt::Debug for OptionGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptionGroup")
            .field("heading", &self.heading)
            .field("args", &self.args)
            .field("explicit", &self.explicit)
            .finish_non_exhaustive()
    }
}

/// Where an option's current value came from, highest precedence first:
/// set at run time (`setOption`), the command line, the environment, the
/// config file, or a default (the task registration's or the type's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum OptionSource {
    /// Set while the service runs, through an admin transport or
    /// [`ServiceHandle::set_option`](crate::ServiceHandle::set_option).
    RunTime,
    /// The command line.
    CommandLine,
    /// An environment variable (`SERVICE_OPTION_NAME`).
    Environment,
    /// The config file (`--config`).
    File,
    /// No value was given: the default, if there is one.
    Default,
}

impl OptionSource {
    /// The source as the admin endpoints show it: `run_time`,
    /// `command_line`, `environment`, `file` or `default`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OptionSource::RunTime => "run_time",
            OptionSource::CommandLine => "command_line",
            OptionSource::Environment => "environment",
            OptionSource::File => "file",
            OptionSource::Default => "default",
        }
    }
}

impl std::fmt::Display for OptionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value as TOML writes it: integers bare, everything else a string
/// (every value goes through the option's own parser anyway, and `0.5`,
/// `10s` or `info,h2=warn` are all text to it).
fn toml_text(value: &str) -> String {
    match value.parse::<i64>() {
        Ok(n) if n.to_string() == value => value.to_owned(),
        _ => toml::Value::String(value.to_owned()).to_string(),
    }
}

/// The flag spelling of a prefixed option: `http` + `port` is `http-port`.
pub(crate) fn prefixed(prefix: &str, long: &str) -> String {
    if prefix.is_empty() {
        long.to_owned()
    } else {
        format!("{prefix}-{long}")
    }
}

/// Builds a group's arguments and returns them with the args to add to the
/// service's command.
pub(crate) struct GroupBuilder<'a> {
    pub(crate) def: &'a OptionsDef,
    pub(crate) heading: &'a str,
    pub(crate) prefix: &'a str,
    /// Upper-case service name used for environment variables.
    pub(crate) env_prefix: &'a str,
}

impl GroupBuilder<'_> {
    /// Builds the group and the arguments for the service's command.
    pub(crate) fn build(self) -> Result<(OptionGroup, Vec<Arg>)> {
        let mut own = (self.def.augment)(
            Command::new(self.heading.to_owned())
                .disable_help_flag(true)
                .disable_version_flag(true),
        );
        for (id, value) in &self.def.defaults {
            // clap panics on an unknown id; a registration's id is the user's.
            if !own.get_arguments().any(|a| a.get_id() == id.as_ref()) {
                return Err(Error::UnknownOption(format!(
                    "{id} (a default for task {})",
                    self.heading
                )));
            }
            let value = value.clone();
            own = own.mut_arg(id.as_ref(), move |a| a.default_value(value));
        }
        // Building fills in what actions imply (a flag's "false" default).
        own.build();

        let mut args = Vec::new();
        let mut service_args = Vec::new();
        let mut canonical = Command::new(self.heading.to_owned())
            .disable_help_flag(true)
            .disable_version_flag(true)
            .no_binary_name(true);
        for arg in own.get_arguments() {
            let id = arg.get_id().as_str().to_owned();
            let Some(long) = arg.get_long() else {
                return Err(Error::Usage(format!(
                    "option `{id}` of {} has no long flag; task options must be `--name` flags",
                    self.heading
                )));
            };
            let key = long.replace('-', "_");
            let long = prefixed(self.prefix, long);
            let name = long.replace('-', "_");
            let help = arg.get_help().map(ToString::to_string);
            let action = arg.get_action().clone();
            let is_flag = matches!(action, ArgAction::SetTrue | ArgAction::SetFalse);
            let is_append = matches!(action, ArgAction::Append);
            if !(is_flag || is_append || matches!(action, ArgAction::Set)) {
                return Err(Error::Usage(format!(
                    "option `{id}` of {} uses an unsupported clap action {action:?}",
                    self.heading
                )));
            }
            let default = (!arg.get_default_values().is_empty()).then(|| {
                arg.get_default_values()
                    .iter()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let env = format!("{}_{}", self.env_prefix, name.to_uppercase());

            // Cross-argument rules name ids of the task's own struct, which do
            // not exist in the service's command: the canonical parse checks them.
            service_args.push(
                arg.clone()
                    .id(name.clone())
                    .long(long.clone())
                    .short(None)
                    .alias(Resettable::<clap::builder::Str>::Reset)
                    .env(env)
                    .help_heading(self.heading.to_owned())
                    .required(false)
                    .requires(Resettable::<Id>::Reset)
                    .conflicts_with(Resettable::<Id>::Reset)
                    .overrides_with(Resettable::<Id>::Reset)
                    .required_unless_present(Resettable::<Id>::Reset)
                    .group(Resettable::<Id>::Reset),
            );
            let mut canonical_arg = arg
                .clone()
                .long(long.clone())
                .short(None)
                .alias(Resettable::<clap::builder::Str>::Reset)
                .env(None)
                .group(Resettable::<Id>::Reset);
            if is_flag {
                canonical_arg = canonical_arg
                    .action(ArgAction::Set)
                    .num_args(1)
                    .value_parser(BoolishValueParser::new());
            }
            canonical = canonical.arg(canonical_arg);
            args.push(OptionArg {
                id,
                name,
                long,
                key,
                help,
                is_flag,
                is_append,
                delimiter: arg.get_value_delimiter(),
                default,
            });
        }
        let current = parse_with(&canonical, self.def.parse, &args, &BTreeMap::new())
            .map_err(|e| Error::Usage(one_line(&e)))?;
        let group = OptionGroup {
            heading: self.heading.to_owned(),
            args,
            canonical,
            parse: self.def.parse,
            prefix: self.prefix.to_owned(),
            explicit: BTreeMap::new(),
            sources: BTreeMap::new(),
            current,
        };
        Ok((group, service_args))
    }
}

/// Renders the explicit values as an argument list for the canonical command.
fn to_argv(args: &[OptionArg], explicit: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut argv = Vec::new();
    for arg in args {
        let Some(values) = explicit.get(&arg.id) else {
            continue;
        };
        let flag = format!("--{}", arg.long);
        match (values.as_slice(), arg.delimiter) {
            ([], _) => argv.push(flag),
            (values, _) if arg.is_append => {
                argv.extend(values.iter().map(|v| format!("{flag}={v}")));
            }
            (values, Some(d)) => argv.push(format!("{flag}={}", values.join(&d.to_string()))),
            ([first, rest @ ..], None) => {
                argv.push(format!("{flag}={first}"));
                argv.extend(rest.iter().cloned());
            }
        }
    }
    argv
}

fn parse_with(
    canonical: &Command,
    parse: ParseFn,
    args: &[OptionArg],
    explicit: &BTreeMap<String, Vec<String>>,
) -> Result<AnyOptions, clap::Error> {
    let matches = canonical
        .clone()
        .try_get_matches_from(to_argv(args, explicit))?;
    parse(&matches)
}

/// A clap error on one line, without its `error: ` label: its first line,
/// plus the options it lists below it (a missing required option's name is
/// on the second line).
pub(crate) fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let listed: Vec<&str> = lines
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    if listed.is_empty() {
        first.to_owned()
    } else {
        format!("{first} {}", listed.join(", "))
    }
}

impl OptionGroup {
    /// Takes the values the command line and the environment gave, and
    /// below them those of the config file.
    pub(crate) fn take_matches(
        &mut self,
        matches: &ArgMatches,
        file: Option<&ConfigFile>,
    ) -> Result<()> {
        let mut explicit = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for arg in &self.args {
            let source = match matches.value_source(&arg.name) {
                Some(ValueSource::CommandLine) => OptionSource::CommandLine,
                Some(ValueSource::EnvVariable) => OptionSource::Environment,
                _ => {
                    if let Some(value) = file.and_then(|f| f.values.get(&arg.name)) {
                        explicit.insert(arg.id.clone(), value.values.clone());
                        sources.insert(arg.id.clone(), OptionSource::File);
                    }
                    continue;
                }
            };
            let values = matches
                .get_raw(&arg.name)
                .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            explicit.insert(arg.id.clone(), values);
            sources.insert(arg.id.clone(), source);
        }
        self.current = match parse_with(&self.canonical, self.parse, &self.args, &explicit) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Err(self
                    .blame_file(file, &explicit, &sources)
                    .unwrap_or_else(|| Error::Usage(one_line(&e))));
            }
        };
        self.explicit = explicit;
        self.sources = sources;
        Ok(())
    }

    /// The error of the first value from the file that does not parse
    /// alone, with its line: a value from the file is the file's fault, and
    /// the reader needs to know where it is.
    fn blame_file(
        &self,
        file: Option<&ConfigFile>,
        explicit: &BTreeMap<String, Vec<String>>,
        sources: &BTreeMap<String, OptionSource>,
    ) -> Option<Error> {
        let file = file?;
        let others: BTreeMap<String, Vec<String>> = explicit
            .iter()
            .filter(|(id, _)| sources.get(*id) != Some(&OptionSource::File))
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        self.args.iter().find_map(|arg| {
            let value = file.values.get(&arg.name)?;
            if sources.get(&arg.id) != Some(&OptionSource::File) {
                return None;
            }
            let mut alone = others.clone();
            alone.insert(arg.id.clone(), value.values.clone());
            let e = parse_with(&self.canonical, self.parse, &self.args, &alone).err()?;
            Some(Error::Usage(
                ConfigError {
                    path: file.path.clone(),
                    line: value.line,
                    key: Some(value.key.clone()),
                    reason: one_line(&e),
                }
                .to_string(),
            ))
        })
    }

    /// The group's options as a config file names them.
    pub(crate) fn file_table(&self) -> FileTable {
        FileTable {
            prefix: self.prefix.clone(),
            keys: self
                .args
                .iter()
                .map(|a| FileKey {
                    name: a.name.clone(),
                    key: a.key.clone(),
                    is_list: a.is_list(),
                })
                .collect(),
        }
    }

    /// Where each option's value came from.
    pub(crate) fn sources(&self) -> impl Iterator<Item = (&str, OptionSource)> {
        self.args.iter().map(|a| {
            let source = self
                .sources
                .get(&a.id)
                .copied()
                .unwrap_or(OptionSource::Default);
            (a.name.as_str(), source)
        })
    }

    /// Whether its options sit at the top level of a config file, as the
    /// service's do.
    pub(crate) fn is_top_level(&self) -> bool {
        self.prefix.is_empty()
    }

    /// The group as a section of a generated config file: each option
    /// after its help as a comment, with its current value; one without a
    /// value commented out. Options `skip` names are left out.
    pub(crate) fn write_config(&self, out: &mut String, skip: &[&str]) {
        use std::fmt::Write as _;
        if !self.prefix.is_empty() {
            let _ = writeln!(
                out,
                "\n# {}\n[{}]",
                self.heading,
                self.prefix.replace('-', "_")
            );
        }
        for arg in self
            .args
            .iter()
            .filter(|a| !skip.contains(&a.name.as_str()))
        {
            if let Some(help) = &arg.help {
                for line in help.lines() {
                    let _ = writeln!(out, "# {line}");
                }
            }
            let values: Option<Vec<String>> = match self.explicit.get(&arg.id) {
                Some(values) if arg.is_flag && values.is_empty() => Some(vec!["true".to_owned()]),
                Some(values) => Some(values.clone()),
                None => arg.default.clone().map(|d| match arg.delimiter {
                    Some(d_char) if !arg.is_flag => d.split(d_char).map(str::to_owned).collect(),
                    _ => vec![d],
                }),
            };
            let is_list = arg.is_list();
            match values {
                None => {
                    let _ = writeln!(out, "# {} =", arg.key);
                }
                Some(values) if is_list => {
                    let items: Vec<String> = values.iter().map(|v| toml_text(v)).collect();
                    let _ = writeln!(out, "{} = [{}]", arg.key, items.join(", "));
                }
                Some(values) => {
                    let value = values.join(",");
                    let value = if arg.is_flag {
                        value
                    } else {
                        toml_text(&value)
                    };
                    let _ = writeln!(out, "{} = {value}", arg.key);
                }
            }
        }
    }

    /// The parsed options struct for the current values.
    pub(crate) fn current(&self) -> AnyOptions {
        Arc::clone(&self.current)
    }

    /// The public names of the options, in declaration order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.args.iter().map(|a| a.name.as_str())
    }

    /// Whether the group has an option of this public name.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.args.iter().any(|a| a.name == name)
    }

    /// The current value of an option as text: what was given, else the
    /// default; `None` when neither exists.
    pub(crate) fn value(&self, name: &str) -> Option<Option<String>> {
        let arg = self.args.iter().find(|a| a.name == name)?;
        Some(match self.explicit.get(&arg.id) {
            Some(values) if arg.is_flag && values.is_empty() => Some("true".to_owned()),
            Some(values) => Some(values.join(",")),
            None => arg.default.clone(),
        })
    }

    /// Sets an option to `values` (`None`: back to its default) from
    /// `source`, through the same parser as the command line. On error
    /// nothing changes. Returns the new parsed struct.
    pub(crate) fn set_values(
        &mut self,
        name: &str,
        values: Option<Vec<String>>,
        source: OptionSource,
    ) -> Result<AnyOptions> {
        let arg = self
            .args
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::UnknownOption(name.to_owned()))?;
        let mut explicit = self.explicit.clone();
        match values {
            Some(values) => explicit.insert(arg.id.clone(), values),
            None => explicit.remove(&arg.id),
        };
        let parsed =
            parse_with(&self.canonical, self.parse, &self.args, &explicit).map_err(|e| {
                Error::InvalidOption {
                    name: name.to_owned(),
                    reason: one_line(&e),
                }
            })?;
        self.explicit = explicit;
        if source == OptionSource::Default {
            self.sources.remove(&arg.id);
        } else {
            self.sources.insert(arg.id.clone(), source);
        }
        self.current = Arc::clone(&parsed);
        Ok(parsed)
    }

    /// Whether `values` for option `name` parse, with the group's other
    /// values as they are: the reason they do not.
    pub(crate) fn check_values(&self, name: &str, values: Vec<String>) -> Result<(), String> {
        let arg = self
            .args
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| format!("no option {name}"))?;
        let mut explicit = self.explicit.clone();
        explicit.insert(arg.id.clone(), values);
        parse_with(&self.canonical, self.parse, &self.args, &explicit)
            .map(drop)
            .map_err(|e| one_line(&e))
    }

    /// Sets an option from text through the same parser as the command line.
    /// On error nothing changes. Returns the new parsed struct.
    pub(crate) fn set(&mut self, name: &str, value: &str) -> Result<AnyOptions> {
        let arg = self
            .args
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::UnknownOption(name.to_owned()))?;
        let values = match arg.delimiter {
            Some(d) if !arg.is_flag => value.split(d).map(str::to_owned).collect(),
            _ => vec![value.to_owned()],
        };
        self.set_values(name, Some(values), OptionSource::RunTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Args, Debug, Clone)]
    struct HttpOptions {
        /// Port.
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Host.
        #[arg(long, conflicts_with = "sock")]
        host: Option<String>,
        /// Unix socket.
        #[arg(long)]
        sock: Option<String>,
        /// Unix socket mode.
        #[arg(long, requires = "sock")]
        sock_mode: Option<String>,
        /// Verbose.
        #[arg(long)]
        verbose: bool,
        /// Names.
        #[arg(long, value_delimiter = ',')]
        names: Vec<String>,
    }

    fn group(prefix: &str) -> (OptionGroup, Command) {
        let def = OptionsDef::of::<HttpOptions>(vec![("port", "9000".into())]);
        let (group, args) = GroupBuilder {
            def: &def,
            heading: "HttpTask",
            prefix,
            env_prefix: "TESTSVC",
        }
        .build()
        .expect("group builds");
        (group, Command::new("svc").args(args))
    }

    fn parsed(g: &OptionGroup) -> HttpOptions {
        g.current()
            .downcast_ref::<HttpOptions>()
            .expect("right type")
            .clone()
    }

    #[test]
    fn prefixes_flags_and_applies_type_defaults() {
        let (mut g, cmd) = group("http");
        let m = cmd
            .try_get_matches_from(["svc", "--http-verbose", "--http-names", "a,b"])
            .expect("parses");
        g.take_matches(&m, None).expect("valid");
        let o = parsed(&g);
        assert_eq!(o.port, 9000, "default from the task type's constant");
        assert!(o.verbose);
        assert_eq!(o.names, ["a", "b"]);
        assert_eq!(g.value("http_port"), Some(Some("9000".into())));
        assert_eq!(g.value("http_verbose"), Some(Some("true".into())));
        assert_eq!(g.value("http_host"), Some(None));
        assert_eq!(g.value("http_names"), Some(Some("a,b".into())));
        assert_eq!(g.value("port"), None);
    }

    #[test]
    fn cross_argument_rules_are_checked_with_prefixed_names() {
        let (mut g, cmd) = group("http");
        let m = cmd
            .try_get_matches_from(["svc", "--http-host", "x", "--http-sock", "/s"])
            .expect("the service command leaves conflicts to the group");
        let err = g.take_matches(&m, None).expect_err("conflict");
        let msg = err.to_string();
        assert!(
            msg.contains("--http-host") && msg.contains("--http-sock"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_required_option_is_named() {
        let (mut g, cmd) = group("http");
        let m = cmd
            .try_get_matches_from(["svc", "--http-sock-mode", "0600"])
            .expect("the service command leaves requirements to the group");
        let msg = g
            .take_matches(&m, None)
            .expect_err("requires --http-sock")
            .to_string();
        assert!(msg.contains("--http-sock <"), "{msg}");
    }

    #[test]
    fn runtime_set_goes_through_the_parser() {
        let (mut g, _) = group("http");
        let o = g.set("http_port", "1234").expect("valid port");
        assert_eq!(o.downcast_ref::<HttpOptions>().map(|o| o.port), Some(1234));
        let err = g.set("http_port", "70000").expect_err("out of range");
        assert!(
            matches!(&err, Error::InvalidOption { name, reason } if name == "http_port" && reason.contains("70000")),
            "{err}"
        );
        assert_eq!(parsed(&g).port, 1234, "a rejected value changes nothing");
        assert!(matches!(
            g.set("http_nope", "1"),
            Err(Error::UnknownOption(_))
        ));
        g.set("http_verbose", "true").expect("flag on");
        assert!(parsed(&g).verbose);
        g.set("http_verbose", "false").expect("flag off");
        assert!(!parsed(&g).verbose);
        assert!(g.set("http_verbose", "maybe").is_err());
        g.set("http_host", "-weird")
            .expect("values may start with a dash");
        assert_eq!(parsed(&g).host.as_deref(), Some("-weird"));
    }

    #[test]
    fn same_type_under_two_prefixes() {
        let (_, a) = group("public");
        let (_, b) = group("admin");
        let cmd = Command::new("svc")
            .args(a.get_arguments().cloned())
            .args(b.get_arguments().cloned());
        let m = cmd
            .try_get_matches_from(["svc", "--public-port", "1", "--admin-port", "2"])
            .expect("both prefixes parse");
        assert_eq!(m.get_one::<u16>("public_port"), Some(&1));
        assert_eq!(m.get_one::<u16>("admin_port"), Some(&2));
    }
}
