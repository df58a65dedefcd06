//! The task's command-line options.

/// Options of [`DBusServiceTask`](crate::DBusServiceTask), under its prefix
/// (`dbus` by default).
///
/// ```
/// use clap::Parser;
/// use sparts_dbus::DBusOptions;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     dbus: DBusOptions,
/// }
///
/// let cli = Cli::parse_from(["svc", "--bus-name", "org.example.Svc", "--replace"]);
/// assert_eq!(cli.dbus.bus_name.as_deref(), Some("org.example.Svc"));
/// assert!(cli.dbus.replace && !cli.dbus.queue && !cli.dbus.system_bus);
/// ```
#[derive(Debug, Clone, Default, clap::Args)]
#[non_exhaustive]
pub struct DBusOptions {
    /// The well-known name to own on the bus (required), e.g. org.example.MyService.
    #[arg(long = "bus-name", value_name = "NAME")]
    pub bus_name: Option<String>,

    /// Take the name from its current owner, and let a later one take it from us.
    #[arg(long)]
    pub replace: bool,

    /// Wait in line for the name instead of failing when it is taken.
    #[arg(long)]
    pub queue: bool,

    /// Connect to the system bus instead of the session bus.
    #[arg(long = "system-bus")]
    pub system_bus: bool,

    /// Connect to the bus at this D-Bus address (e.g. `unix:path=/run/my.sock`)
    /// instead of the session or system bus.
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,
}
