//! Clients and handlers the server tests share.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sparts_core::ServiceHandle;
use sparts_thrift::fb303::{
    FacebookServiceSyncClient, FacebookServiceSyncHandler, FacebookServiceSyncProcessor, FbStatus,
};
use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TCompactInputProtocol, TCompactOutputProtocol,
    TInputProtocol, TMultiplexedOutputProtocol, TOutputProtocol,
};
use thrift::transport::{
    TBufferedReadTransport, TBufferedWriteTransport, TFramedReadTransport, TFramedWriteTransport,
    TIoChannel, TTcpChannel,
};

pub type Client =
    FacebookServiceSyncClient<Box<dyn TInputProtocol + Send>, Box<dyn TOutputProtocol + Send>>;

/// How a test client talks.
#[derive(Debug, Clone, Copy)]
pub struct Wire {
    pub framed: bool,
    pub compact: bool,
}

pub const FRAMED_BINARY: Wire = Wire {
    framed: true,
    compact: false,
};

/// A blocking fb303 client on 127.0.0.1:`port`, multiplexed under `service` if given.
pub fn client(port: u16, wire: Wire, service: Option<&str>) -> Client {
    let mut channel = TTcpChannel::new();
    channel.open(format!("127.0.0.1:{port}")).expect("connects");
    let (read, write) = channel.split().expect("splits");
    let (read, write): (
        Box<dyn thrift::transport::TReadTransport + Send>,
        Box<dyn thrift::transport::TWriteTransport + Send>,
    ) = if wire.framed {
        (
            Box::new(TFramedReadTransport::new(read)),
            Box::new(TFramedWriteTransport::new(write)),
        )
    } else {
        (
            Box::new(TBufferedReadTransport::new(read)),
            Box::new(TBufferedWriteTransport::new(write)),
        )
    };
    let (input, output): (
        Box<dyn TInputProtocol + Send>,
        Box<dyn TOutputProtocol + Send>,
    ) = if wire.compact {
        (
            Box::new(TCompactInputProtocol::new(read)),
            Box::new(TCompactOutputProtocol::new(write)),
        )
    } else {
        (
            Box::new(TBinaryInputProtocol::new(read, true)),
            Box::new(TBinaryOutputProtocol::new(write, true)),
        )
    };
    let output: Box<dyn TOutputProtocol + Send> = match service {
        Some(name) => Box::new(TMultiplexedOutputProtocol::new(name, output)),
        None => output,
    };
    FacebookServiceSyncClient::new(input, output)
}

/// The message of an application exception, or a panic naming what came instead.
pub fn app_error<T: std::fmt::Debug>(result: thrift::Result<T>) -> String {
    match result {
        Err(thrift::Error::Application(e)) => e.message,
        other => panic!("expected an application exception, got {other:?}"),
    }
}

/// A gate a handler waits at (at most 10 s) until a test opens it; the
/// test can also wait for a handler to reach it.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<(Mutex<GateState>, Condvar)>);

#[derive(Debug, Default)]
struct GateState {
    open: bool,
    /// Handlers that have reached the gate.
    entered: usize,
}

impl Gate {
    pub fn open(&self) {
        let (state, changed) = &*self.0;
        state.lock().expect("gate").open = true;
        changed.notify_all();
    }

    /// Waits (at most 10 s) until a handler has reached the gate; whether
    /// one has.
    pub async fn entered(&self) -> bool {
        let gate = self.clone();
        tokio::task::spawn_blocking(move || {
            let (state, changed) = &*gate.0;
            let guard = state.lock().expect("gate");
            let (state, _) = changed
                .wait_timeout_while(guard, Duration::from_secs(10), |s| s.entered == 0)
                .expect("gate");
            state.entered > 0
        })
        .await
        .unwrap_or(false)
    }

    fn wait(&self) {
        let (state, changed) = &*self.0;
        let mut guard = state.lock().expect("gate");
        guard.entered += 1;
        changed.notify_all();
        let _open = changed
            .wait_timeout_while(guard, Duration::from_secs(10), |s| !s.open)
            .expect("gate");
    }
}

/// An fb303 handler for tests: named; its getStatus answers WARNING,
/// optionally after a delay or a gate, or panics.
#[derive(Debug, Clone, Default)]
pub struct TestHandler {
    pub name: &'static str,
    pub delay: Option<Duration>,
    pub gate: Option<Gate>,
    pub panics: bool,
}

impl FacebookServiceSyncHandler for TestHandler {
    fn handle_get_name(&self) -> thrift::Result<String> {
        Ok(self.name.to_owned())
    }
    /// The name of the thread that ran the call, so tests see where it ran.
    fn handle_get_version(&self) -> thrift::Result<String> {
        Ok(std::thread::current().name().unwrap_or_default().to_owned())
    }
    fn handle_get_status(&self) -> thrift::Result<FbStatus> {
        if let Some(delay) = self.delay {
            std::thread::sleep(delay);
        }
        if let Some(gate) = &self.gate {
            gate.wait();
        }
        assert!(!self.panics, "test handler told to panic");
        Ok(FbStatus::WARNING)
    }
    fn handle_get_status_details(&self) -> thrift::Result<String> {
        Ok(String::new())
    }
    fn handle_get_counters(&self) -> thrift::Result<BTreeMap<String, i64>> {
        Ok(BTreeMap::new())
    }
    fn handle_get_counter(&self, _key: String) -> thrift::Result<i64> {
        Ok(0)
    }
    fn handle_set_option(&self, _key: String, _value: String) -> thrift::Result<()> {
        Ok(())
    }
    fn handle_get_option(&self, _key: String) -> thrift::Result<String> {
        Ok(String::new())
    }
    fn handle_get_options(&self) -> thrift::Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
    fn handle_get_cpu_profile(&self, _seconds: i32) -> thrift::Result<String> {
        Ok(String::new())
    }
    fn handle_alive_since(&self) -> thrift::Result<i64> {
        Ok(0)
    }
    fn handle_reinitialize(&self) -> thrift::Result<()> {
        Ok(())
    }
    fn handle_shutdown(&self) -> thrift::Result<()> {
        Ok(())
    }
}

/// A handler task named `name` whose fb303 handler is `handler`, named too.
pub fn handler(name: &'static str, handler: TestHandler) -> ThriftHandlerTask {
    ThriftHandlerTask::from_fn(name, move |_| {
        FacebookServiceSyncProcessor::new(TestHandler {
            name,
            ..handler.clone()
        })
    })
}

/// A framed, strict-binary call with no arguments.
pub fn framed_call(method: &str, message_type: u8, seq: u32) -> Vec<u8> {
    let mut msg = vec![0x80, 0x01, 0x00, message_type];
    msg.extend(u32::try_from(method.len()).expect("short").to_be_bytes());
    msg.extend(method.as_bytes());
    msg.extend(seq.to_be_bytes());
    msg.push(0); // the empty argument struct
    let mut framed = u32::try_from(msg.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    framed.extend(msg);
    framed
}

/// Runs blocking client code off the runtime, with a deadline.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::time::timeout(Duration::from_secs(20), tokio::task::spawn_blocking(f))
        .await
        .expect("client finishes in time")
        .expect("client does not panic")
}

/// The TCP port of the service's (first) Thrift server.
pub fn port(handle: &ServiceHandle) -> u16 {
    handle
        .require::<ThriftServerTask>()
        .expect("server task")
        .port()
        .expect("bound")
}
