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

/// A chaincode. Contract code is synchronous: each stub call returns once the peer answered
/// (like the Go shim's goroutine per transaction). Where a transaction runs between those
/// calls is its [`Execution`].
///
/// Implementations must be thread-safe: transactions of one stream, and of several peers'
/// streams in CaaS mode, run concurrently on the same value.
pub trait Chaincode: Send + Sync + 'static {
    /// Runs for an INIT message (a proposal with `is_init` set, once per definition version).
    fn init(&self, stub: &mut ChaincodeStub<'_>) -> Response;
    /// Runs for every TRANSACTION message.
    fn invoke(&self, stub: &mut ChaincodeStub<'_>) -> Response;
    /// Where the INIT/TRANSACTION with these arguments (`ChaincodeInput.args`) runs;
    /// [`Execution::Thread`] unless the chaincode knows it is short.
    fn execution(&self, _args: &[Vec<u8>]) -> Execution {
        Execution::Thread
    }
}

/// Where a transaction's code runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Execution {
    /// On its own thread of the blocking pool: it may compute or block for as long as it
    /// likes without holding up any other transaction.
    #[default]
    Thread,
    /// On the stream's own thread, as a coroutine that suspends at each ledger call and
    /// resumes when the peer's answer is read: no hand-off between threads (two wake-ups per
    /// ledger call), which was over half of the registry's CPU per query. The process has one
    /// such thread, so code
    /// between two ledger calls holds up every stream: choose it for transactions that only
    /// read and compute briefly. On a multi-threaded Tokio runtime (not what
    /// [`start`](crate::start) builds) such transactions run on a thread all the same.
    Inline,
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
