//! SQLSTATE codes the gateway itself raises.

pub const PROTOCOL_VIOLATION: &str = "08P01";
pub const CONNECTION_FAILURE: &str = "08006";
pub const INVALID_AUTHORIZATION: &str = "28000";
pub const INVALID_PASSWORD: &str = "28P01";
pub const INVALID_CATALOG_NAME: &str = "3D000";
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
pub const ADMIN_SHUTDOWN: &str = "57P01";
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
pub const INTERNAL_ERROR: &str = "XX000";
pub const INVALID_PARAMETER_VALUE: &str = "22023";
/// `io_error`: the recording store could not confirm a strict-mode request.
pub const IO_ERROR: &str = "58030";
