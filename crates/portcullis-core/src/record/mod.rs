//! Session recording: the event model and the recorder that persists it.

pub mod audit;
pub mod chain;
mod event;
mod recorder;

pub use event::*;
pub use recorder::{RecordError, Recorder, RecorderStats, RecorderThread};
