//! Portcullis state store: SQLite by default, behind [`portcullis_core::store::Store`].
#![forbid(unsafe_code)]

mod migrations;
mod reviews;
mod sqlite;

pub use sqlite::SqliteStore;
