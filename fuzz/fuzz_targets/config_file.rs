//! The config file (`--config`): the input, as UTF-8, is the file of a
//! service with a task of every option type under a plain prefix and one
//! under a hyphenated prefix. It is read as a start reads it, up to
//! `--generate-config`, which answers before any task starts. Whatever the
//! file, the start is a result, never a panic; and a file that reads
//! generates one that reads to the same options.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sparts_core::{Error, IntoTaskSpec, VService};
use sparts_fuzz::every::Holder;

/// What reading `file` as a config file gives: the generated file, or the
/// error's message.
fn read(runtime: &tokio::runtime::Runtime, file: &str) -> Result<String, String> {
    let service = VService::new("Fuzz")
        .with_logging(false)
        .with_signals(false)
        .with_task(Holder.with_name("Plain").with_prefix("t"))
        .with_task(Holder.with_name("Hyphen").with_prefix("u-v"));
    let started = runtime.block_on(service.start_with_args([
        "fuzz",
        "--config",
        file,
        "--generate-config",
    ]));
    match started {
        Err(Error::Usage(text)) if text.starts_with("# Every option") => Ok(text),
        Err(e) => Err(e.to_string()),
        Ok(_) => panic!("--generate-config started the service"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    static RUNTIME: OnceLock<(tokio::runtime::Runtime, tempfile::TempDir)> = OnceLock::new();
    let (runtime, dir) = RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        (runtime, tempfile::tempdir().expect("a scratch directory"))
    });
    let path = dir.path().join("fuzz.toml");
    std::fs::write(&path, text).expect("the scratch file is written");
    let path = path.display().to_string();
    let Ok(generated) = read(runtime, &path) else {
        return;
    };
    std::fs::write(&path, &generated).expect("the scratch file is written");
    match read(runtime, &path) {
        Ok(again) => assert_eq!(again, generated, "the generated file reads differently"),
        Err(e) => panic!("the generated file does not read: {e}\n{generated}"),
    }
});
