//! A readiness hold seen over a real session bus: fb303's getStatus stays
//! ALIVE and getStatusDetails gives the reason. Run under
//! `dbus-run-session -- cargo test`; without a session bus the test says
//! so and passes.

mod common;

use common::{session_bus, start, unique_name};
use zbus::Connection;

#[zbus::proxy(interface = "com.facebook.fb303.Service")]
trait Fb303 {
    #[zbus(name = "getStatus")]
    fn get_status(&self) -> zbus::Result<String>;
    #[zbus(name = "getStatusDetails")]
    fn get_status_details(&self) -> zbus::Result<String>;
}

#[tokio::test]
async fn a_held_service_is_alive_with_the_reason_in_its_details() -> zbus::Result<()> {
    if !session_bus("a_held_service_is_alive_with_the_reason_in_its_details") {
        return Ok(());
    }
    let name = unique_name("Held");
    let running = start("Held", &name, &[]).await.expect("starts");
    let conn = Connection::session().await?;
    let fb303 = Fb303Proxy::builder(&conn)
        .destination(name.as_str())?
        .path(sparts_dbus::fb303_object_path("Held"))?
        .build()
        .await?;
    assert_eq!(fb303.get_status_details().await?, "");

    let warming = running.handle().hold_not_ready("cache warming");
    assert_eq!(fb303.get_status().await?, "ALIVE", "held is not a warning");
    assert_eq!(
        fb303.get_status_details().await?,
        "not ready: cache warming"
    );
    drop(warming);
    assert_eq!(fb303.get_status_details().await?, "");
    running.shutdown().await.expect("stops");
    Ok(())
}
