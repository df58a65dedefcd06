//! sparts-core: services made of tasks.

mod counters;
mod error;

pub use counters::{
    Average, CallbackCounter, Clock, Count, Counter, CounterCallback, CounterKind, CounterRegistry,
    CounterValue, CountersSnapshot, ManualClock, Max, Min, MonotonicClock, SampleType, Samples,
    SamplesConfig, SharedClock, Window,
};
pub use error::{BoxError, Error, Result, TaskFailure};
