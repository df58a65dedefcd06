//! What the fuzz targets share: a service started once for the whole run.

use std::sync::OnceLock;

use sparts_core::{RunningService, ServiceHandle, VService};

/// A service running for the whole fuzzing run, on a runtime of its own,
/// with its option names read once.
#[derive(Debug)]
pub struct Started {
    /// Keeps the service's tasks running.
    _runtime: tokio::runtime::Runtime,
    running: RunningService,
    /// Every option the service has.
    pub option_names: Vec<String>,
}

impl Started {
    /// The service's handle.
    pub fn handle(&self) -> &ServiceHandle {
        self.running.handle()
    }
}

/// The service `make` builds, started with `args` (logging and signals
/// off) at the first call and kept in `cell` for the others.
pub fn started_once<'a>(
    cell: &'a OnceLock<Started>,
    make: impl FnOnce() -> VService,
    args: &[&str],
) -> &'a Started {
    cell.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let argv = std::iter::once("fuzz").chain(args.iter().copied());
        let service = make().with_logging(false).with_signals(false);
        let running = runtime
            .block_on(service.start_with_args(argv))
            .expect("the service starts");
        let option_names = running.handle().option_names();
        Started {
            _runtime: runtime,
            running,
            option_names,
        }
    })
}

/// A task with an option of every type an option can have: integers,
/// floats, fractional seconds, an enum, strings, a path, a flag, a list.
pub mod every {
    use std::path::PathBuf;
    use std::time::Duration;

    use sparts_core::options::parse_interval;
    use sparts_core::{BoxError, TaskContext, VTask, clap};

    /// An enum option's values.
    #[derive(clap::ValueEnum, Clone, Debug)]
    pub enum Mode {
        /// One value.
        Fast,
        /// The other.
        Safe,
    }

    /// The options.
    #[derive(clap::Args, Clone, Debug)]
    pub struct Every {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long, default_value_t = 1)]
        workers: usize,
        #[arg(long, default_value_t = -1)]
        offset: i64,
        #[arg(long, default_value_t = 0.5)]
        ratio: f64,
        #[arg(long, default_value = "1", value_parser = parse_interval)]
        interval: Duration,
        #[arg(long, value_enum, default_value_t = Mode::Safe)]
        mode: Mode,
        #[arg(long, default_value = "name")]
        name: String,
        #[arg(long)]
        path: Option<PathBuf>,
        #[arg(long)]
        verbose: bool,
        #[arg(long, value_delimiter = ',')]
        peers: Vec<String>,
    }

    /// A task holding those options until the service stops.
    #[derive(Clone, Debug)]
    pub struct Holder;

    impl VTask<Every> for Holder {
        async fn run(&self, ctx: TaskContext<Every>) -> Result<(), BoxError> {
            ctx.stopped().await;
            Ok(())
        }
    }
}
