//! glib's main loop as a task, on a thread of its own: a timeout source
//! logs `glib tick {n}` every `--glib-interval` seconds and counts its
//! ticks (`Glib.ticks`); SIGTERM quits the loop and the service exits 0.
//!
//! ```sh
//! cargo run -p sparts-examples --bin glib_loop -- --glib-interval 0.5
//! ```
use std::time::Duration;

use glib::{ControlFlow, MainContext, MainLoop, Priority};
use sparts::{TaskContext, TaskSpec, VService, clap};

#[derive(clap::Args)]
struct GlibOptions {
    /// Seconds between ticks (fractional).
    #[arg(long, default_value = "1", value_parser = sparts::options::parse_interval)]
    interval: Duration,
}

fn main() -> std::process::ExitCode {
    let glib = TaskSpec::blocking("Glib", |ctx: TaskContext<GlibOptions>| {
        // GTK, GStreamer and GIO's D-Bus run on the default context.
        let context = MainContext::default();
        let _owner = context
            .acquire()
            .map_err(|_| "glib's default main context is owned by another thread")?;
        let main_loop = MainLoop::new(Some(&context), false);
        let ticks = ctx.counters().counter("ticks");
        let tick = move || {
            ticks.increment();
            tracing::info!("glib tick {}", ticks.value());
            ControlFlow::Continue
        };
        glib::timeout_source_new(ctx.options().interval, None, Priority::DEFAULT, tick)
            .attach(Some(&context));
        let quit = main_loop.clone();
        ctx.on_stop(move || quit.quit());
        main_loop.run();
        Ok(())
    });
    VService::new("GlibLoop").with_task(glib).run_from_cli()
}
