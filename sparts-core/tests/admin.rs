//! The admin model every transport serves: reads, writes, and the
//! `--admin-trusted` rule for mutating calls.

use std::net::IpAddr;

use sparts_core::{Error, Peer, Status, VService};

fn ip(s: &str) -> Peer {
    Peer::Ip(s.parse::<IpAddr>().expect("valid address"))
}

#[tokio::test]
async fn reads_are_open_and_writes_need_a_trusted_peer() -> Result<(), Error> {
    let running = VService::new("Admin")
        .with_version("2.0")
        .start_with_args(["admin", "--admin-trusted", "::1/128,10.1.0.0/16"])
        .await?;
    let admin = running.handle().admin();
    assert_eq!((admin.name(), admin.version()), ("Admin", "2.0"));
    assert_eq!(admin.status(), Status::Alive);
    assert_eq!(admin.status_details(), "");
    assert!(admin.alive_since() > 0 && admin.uptime() >= 0);
    running.handle().counters().counter("requests").add(3);
    assert_eq!(admin.counter("requests")?, 3.0);
    assert!(matches!(
        admin.counter("nope"),
        Err(Error::UnknownCounter(_))
    ));
    assert_eq!(admin.counters_matching("^req")?.len(), 1);
    assert!(matches!(
        admin.counters_matching("("),
        Err(Error::InvalidPattern { .. })
    ));
    assert!(
        admin
            .option_names()
            .contains(&"shutdown_timeout".to_owned())
    );
    assert_eq!(admin.option("shutdown_timeout")?.as_deref(), Some("10"));

    // 127.0.0.1 is not in the list given above.
    let local_v4 = ip("127.0.0.1");
    assert!(!admin.is_trusted(&local_v4));
    let err = admin
        .set_option(&local_v4, "shutdown_timeout", "1")
        .expect_err("untrusted");
    assert!(
        matches!(&err, Error::NotTrusted { action, peer } if action == "setOption" && peer == "127.0.0.1"),
        "{err}"
    );
    assert_eq!(
        admin.option("shutdown_timeout")?.as_deref(),
        Some("10"),
        "unchanged"
    );
    assert!(admin.shutdown(&local_v4).is_err());
    assert!(admin.reinitialize(&ip("192.0.2.1")).is_err());
    assert_eq!(admin.status(), Status::Alive, "refused calls do nothing");

    assert!(admin.is_trusted(&ip("::1")));
    assert!(admin.is_trusted(&ip("10.1.200.3")));
    assert!(
        admin.is_trusted(&ip("::ffff:10.1.0.9")),
        "v4-mapped v6 peers count as v4"
    );
    assert!(admin.is_trusted(&Peer::Unix));
    admin.set_option(&ip("10.1.0.1"), "shutdown_timeout", "1.5")?;
    assert_eq!(admin.option("shutdown_timeout")?.as_deref(), Some("1.5"));
    let bad = admin.set_option(&Peer::Unix, "shutdown_timeout", "never");
    assert!(matches!(bad, Err(Error::InvalidOption { .. })));

    admin.shutdown(&ip("::1"))?;
    assert_eq!(admin.status(), Status::Stopping);
    running.wait().await?;
    assert_eq!(admin.status(), Status::Stopped);
    Ok(())
}

#[tokio::test]
async fn the_default_trusts_loopback_only() -> Result<(), Error> {
    let running = VService::new("Default")
        .start_with_args(["default"])
        .await?;
    let admin = running.handle().admin();
    assert!(admin.is_trusted(&ip("127.0.0.5")));
    assert!(admin.is_trusted(&ip("::1")));
    assert!(!admin.is_trusted(&ip("192.168.1.10")));
    assert!(!admin.is_trusted(&ip("fe80::1")));
    running.shutdown().await
}
