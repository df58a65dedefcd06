//! A form in the terminal beside a periodic task's counter, as the
//! original's `demo_tui.py`: Tab moves between the fields, ←/→ change the
//! choice and the slider; Esc, or `q` outside the text field, closes the
//! form and the service exits 0.
//!
//! ```sh
//! cargo run -p sparts-examples --bin tui_demo
//! ```
use sparts::tui::{TuiTask, form::Form};
use sparts::{TaskSpec, VService};

fn main() -> std::process::ExitCode {
    let ticker = TaskSpec::periodic("Ticker", |_ctx| async { Ok(()) });
    VService::new("TuiDemo")
        .with_task(ticker.with_default("interval", "0.5"))
        .with_task(TuiTask::new(|ctx| {
            let service = ctx.service().clone();
            Form::new("Demo form")
                .text("Name", "")
                .choice("Colour", ["red", "green", "blue"])
                .slider("Volume", 5, 10)
                .panel("Ticker", move |form| {
                    let ticks = service.counter("Ticker.n_iterations").unwrap_or_default();
                    let name = form.text_of("Name").unwrap_or_default();
                    let colour = form.choice_of("Colour").unwrap_or_default();
                    format!("Ticks: {ticks}\n\nHello, {name}!\nColour: {colour}")
                })
        }))
        .run_from_cli()
}
