//! The `Chaincode` trait every chaincode implements, and the `Response` helpers the Go shim
//! calls `shim.Success` / `shim.Error`.

use crate::stub::ChaincodeStub;
pub use fabric_protos::peer::Response;

/// Status of a successful response (`shim.OK`).
pub const OK: i32 = 200;
/// Responses at or above this status are not endorsed (`shim.ERRORTHRESHOLD`).
pub const ERROR_THRESHOLD: i32 = 400;
/// Status of a failed response (`shim.ERROR`).
pub const ERROR: i32 = 500;

/// A chaincode. Each INIT/TRANSACTION runs on its own blocking thread, so stub calls block
/// (like the Go shim's goroutine per transaction) and contract code stays synchronous.
///
/// Implementations must be thread-safe: transactions of one stream, and of several peers'
/// streams in CaaS mode, run concurrently on the same value.
pub trait Chaincode: Send + Sync + 'static {
    /// Runs for an INIT message (a proposal with `is_init` set, once per definition version).
    fn init(&self, stub: &mut ChaincodeStub) -> Response;
    /// Runs for every TRANSACTION message.
    fn invoke(&self, stub: &mut ChaincodeStub) -> Response;
}

/// `shim.Success(payload)`: status 200, no message.
pub fn success(payload: impl Into<Vec<u8>>) -> Response {
    Response {
        status: OK,
        message: String::new(),
        payload: payload.into(),
    }
}

/// `shim.Error(message)`: status 500, the message, no payload.
pub fn error(message: impl Into<String>) -> Response {
    Response {
        status: ERROR,
        message: message.into(),
        payload: Vec::new(),
    }
}
