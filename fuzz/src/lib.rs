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
