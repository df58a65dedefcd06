//! Option values set at run time, as every admin transport sets them, on
//! options of every type an option can have: the service's own (log
//! directives, CIDR lists, durations, paths, flags) and a task's (integers,
//! floats, fractional seconds, enums, strings). The first byte picks the
//! option; the rest, as UTF-8, is the value.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sparts_core::{Peer, VService};
use sparts_fuzz::every::Holder;
use sparts_fuzz::{Started, started_once};

fuzz_target!(|data: &[u8]| {
    let Some((&which, value)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    static SERVICE: OnceLock<Started> = OnceLock::new();
    let service = started_once(&SERVICE, || VService::new("Fuzz").with_task(Holder), &[]);
    let names = &service.option_names;
    let name = &names[usize::from(which) % names.len()];
    let admin = service.handle().admin();
    if admin.set_option(&Peer::InProcess, name, value).is_ok() {
        // What was set reads back.
        assert!(admin.option(name).is_ok(), "{name} set but not read");
    }
});
