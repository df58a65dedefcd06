//! One NATS client per URL, shared by every queue and lease of the
//! process, and the status warning while it is disconnected.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use async_nats::jetstream;
use sparts_core::ServiceHandle;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::error::{Error, Result};

/// How long the first connection may take before the start fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed `nats://…` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NatsUrl {
    /// The servers, as `nats://host:port` each.
    pub(crate) servers: Vec<String>,
    /// Stream replicas (`?replicas=N`, default 1).
    pub(crate) replicas: usize,
}

impl NatsUrl {
    /// Reads `nats://host:port[,host:port…][?replicas=N]`.
    pub(crate) fn parse(task: &str, url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl {
            task: task.to_owned(),
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(rest) = url.strip_prefix("nats://") else {
            return Err(bad("it does not start with nats://"));
        };
        let (hosts, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut replicas = 1;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("replicas", n)) => {
                    replicas = n
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=5).contains(n))
                        .ok_or_else(|| bad("replicas is a number from 1 to 5"))?;
                }
                _ => {
                    return Err(bad(&format!(
                        "unknown parameter {pair:?} (known: replicas)"
                    )));
                }
            }
        }
        let mut servers = Vec::new();
        for host in hosts.split(',') {
            let host = host.strip_prefix("nats://").unwrap_or(host);
            let (name, port) = host
                .rsplit_once(':')
                .ok_or_else(|| bad(&format!("{host:?} has no port")))?;
            if name.is_empty() || name.contains('/') {
                return Err(bad(&format!("{host:?} is not HOST:PORT")));
            }
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(&format!("{port:?} is not a port")))?;
            servers.push(format!("nats://{host}"));
        }
        Ok(Self { servers, replicas })
    }

    /// The key of the shared client: the servers, without the query.
    fn key(&self) -> String {
        self.servers.join(",")
    }
}

/// A shared client, its JetStream context, and whether it is connected.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    connected: watch::Receiver<bool>,
    key: String,
}

fn clients() -> &'static Mutex<HashMap<String, Connection>> {
    static CLIENTS: OnceLock<Mutex<HashMap<String, Connection>>> = OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

impl Connection {
    /// The process's client for `url`, connecting on first use; an
    /// unreachable server is an error naming the task.
    pub(crate) async fn get(task: &str, url: &NatsUrl) -> Result<Self> {
        let key = url.key();
        let cached = clients()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(connection) = cached {
            return Ok(connection);
        }
        let (tx, connected) = watch::channel(true);
        let options = async_nats::ConnectOptions::new()
            .name(format!("sparts {task}"))
            .connection_timeout(CONNECT_TIMEOUT)
            // Keep trying for ever once connected: the status says so.
            .max_reconnects(None)
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tx.send_replace(true);
                        }
                        async_nats::Event::Disconnected => {
                            tx.send_replace(false);
                        }
                        _ => {}
                    }
                }
            });
        let servers: Vec<async_nats::ServerAddr> = url
            .servers
            .iter()
            .map(|s| s.parse::<async_nats::ServerAddr>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e: std::io::Error| Error::BadUrl {
                task: task.to_owned(),
                url: key.clone(),
                reason: e.to_string(),
            })?;
        let client = tokio::time::timeout(CONNECT_TIMEOUT * 2, options.connect(servers))
            .await
            .map_err(|_| format!("no answer within {:?}", CONNECT_TIMEOUT * 2))
            .and_then(|c| c.map_err(|e| e.to_string()))
            .map_err(|reason| Error::Unreachable {
                task: task.to_owned(),
                url: key.clone(),
                reason,
            })?;
        let connection = Self {
            jetstream: jetstream::new(client.clone()),
            client,
            connected,
            key: key.clone(),
        };
        let mut clients = clients().lock().unwrap_or_else(PoisonError::into_inner);
        // Another task may have connected meanwhile: keep one client.
        Ok(clients.entry(key).or_insert(connection).clone())
    }

    /// Holds a status warning naming `task` while the client is
    /// disconnected, until `stopped` resolves. The client reconnects by
    /// itself.
    pub(crate) fn warn_while_disconnected(
        &self,
        service: &ServiceHandle,
        task: &str,
        stopped: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let mut connected = self.connected.clone();
        let service = service.clone();
        let task = task.to_owned();
        let url = self.key.clone();
        tokio::spawn(async move {
            tokio::pin!(stopped);
            let mut warning = None;
            loop {
                let up = *connected.borrow_and_update();
                match (up, warning.take()) {
                    (false, None) => {
                        warn!("{task}: lost the NATS server at {url}; reconnecting");
                        warning = Some(service.register_warning(format!(
                            "{task}: NATS server at {url} unreachable; reconnecting"
                        )));
                    }
                    (true, Some(id)) => {
                        info!("{task}: reconnected to the NATS server at {url}");
                        service.clear_warning(id);
                    }
                    (_, kept) => warning = kept,
                }
                tokio::select! {
                    () = &mut stopped => break,
                    changed = connected.changed() => if changed.is_err() { break },
                }
            }
            if let Some(id) = warning {
                service.clear_warning(id);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_servers_and_replicas() {
        let url = NatsUrl::parse("T", "nats://a:4222,b:4223?replicas=3").expect("valid");
        assert_eq!(url.servers, ["nats://a:4222", "nats://b:4223"]);
        assert_eq!(url.replicas, 3);
        assert_eq!(
            NatsUrl::parse("T", "nats://127.0.0.1:4222")
                .map(|u| u.replicas)
                .ok(),
            Some(1)
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("http://a:1", "nats://"),
            ("nats://a", "no port"),
            ("nats://a:port", "not a port"),
            ("nats://a:0", "not a port"),
            ("nats://:4222", "not HOST:PORT"),
            ("nats://a:1?replicas=9", "1 to 5"),
            ("nats://a:1?color=red", "unknown parameter"),
        ] {
            let error = NatsUrl::parse("Jobs", url).expect_err(url).to_string();
            assert!(error.starts_with("Jobs: "), "{error}");
            assert!(error.contains(why), "{url}: {error}");
        }
    }
}
