//! A TuiTask where there is no terminal to own (`--daemon` here, so the
//! test does not depend on how it is run): a clear error naming the task,
//! or, for an optional one, a service that runs without it.

use sparts_core::{IntoTaskSpec, VService};
use sparts_tui::{TuiTask, ratatui::widgets::Paragraph};

struct Hello;

impl sparts_tui::TuiApp for Hello {
    fn draw(&mut self, frame: &mut ratatui::Frame<'_>) {
        frame.render_widget(Paragraph::new("hello"), frame.area());
    }
}

#[tokio::test]
async fn a_required_ui_stops_the_start_and_names_the_task() {
    let error = VService::new("Headless")
        .with_logging(false)
        .with_task(TuiTask::new(|_| Hello).with_name("Screen"))
        .start_with_args(["headless", "--daemon"])
        .await
        .expect_err("no terminal");
    let text = error.to_string();
    assert!(
        text.contains("Screen needs a terminal: --daemon detaches the service from its terminal"),
        "{text}"
    );
}

#[tokio::test]
async fn an_optional_ui_removes_itself_and_the_service_runs() {
    let running = VService::new("Headless")
        .with_logging(false)
        .with_task(TuiTask::new(|_| Hello).optional().with_name("Screen"))
        .with_task(TuiTask::dashboard().with_name("Board"))
        .start_with_args(["headless", "--daemon", "--tasks", "Screen"])
        .await
        .expect("starts without the UI");
    assert!(
        running.handle().task_names().is_empty(),
        "{:?}",
        running.handle().task_names()
    );
    running.shutdown().await.expect("clean stop");
}
