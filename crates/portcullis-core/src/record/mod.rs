//! Session recording: the event model and the recorder that persists it.

pub mod audit;
pub mod capture;
pub mod chain;
mod event;
mod judged;
mod recorder;
mod terminal;
mod transfer;

pub use event::*;
pub use judged::Judged;
pub use recorder::{RecordError, Recorder, RecorderStats, RecorderThread};
pub use terminal::{TerminalEvent, TerminalStream, asciicast};
pub use transfer::{ForwardEvent, TransferEvent};
