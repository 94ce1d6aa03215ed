//! Inline transactions ([`Execution::Inline`](crate::Execution::Inline)): each runs as a
//! coroutine on the stream's own thread and suspends at every ledger call with the request to
//! send; the stream's loop sends it and resumes the coroutine with the peer's answer. A
//! transaction on a thread instead pays two cross-thread wake-ups per call, and two more to
//! start and end. This module owns one stream's suspended coroutines and a pool of stacks.

use std::collections::HashMap;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use fabric_protos::peer::ChaincodeMessage;
use send_wrapper::SendWrapper;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::handler::Transaction;
use crate::inflight::TxKey;
use crate::stub::{Resume, Yielder};

/// An inline transaction's stack: what a thread of Tokio's blocking pool gets, so contract
/// code may recurse as deep as on a thread. Pages are only committed once touched.
const STACK_SIZE: usize = 2 * 1024 * 1024;

/// Stacks kept for the next transactions once theirs ended: mapping a fresh one takes three
/// system calls. Sixteen covers the peer's usual concurrency on one stream.
const POOLED_STACKS: usize = 16;

/// Inline transactions one stream may have suspended at once; more run on threads (and
/// queue for the blocking pool, which has as many): a peer sending transactions without
/// answering their requests must not make the process map a stack for each.
pub(crate) const MAX_SUSPENDED: usize = 512;

/// A transaction: yields the requests it sends, returns its COMPLETED/ERROR message.
type Tx = Coroutine<Resume, ChaincodeMessage, ChaincodeMessage, DefaultStack>;

/// What became of a reply offered to the inline transactions.
pub(crate) enum Delivery {
    /// It resumed one, and this is the next message it sends.
    Next(ChaincodeMessage),
    /// No inline transaction waits for it: here it is back.
    NotWaiting(ChaincodeMessage),
}

/// One stream's inline transactions.
pub(crate) struct InlineTxs(SendWrapper<Coroutines>);

#[derive(Default)]
struct Coroutines {
    /// Transactions suspended in a ledger call, until the peer's answer arrives.
    suspended: HashMap<TxKey, Tx>,
    stacks: Vec<DefaultStack>,
}

impl InlineTxs {
    /// The stream's inline transactions, on a current-thread runtime (what `start` builds).
    /// `None` on a multi-threaded one: there the stream's task may move to another thread
    /// between two messages, and a suspended coroutine's stack holds contract data that need
    /// not be `Send`. (`SendWrapper` panics rather than let that happen.)
    pub(crate) fn for_this_runtime() -> Option<InlineTxs> {
        let flavor = Handle::try_current().map(|h| h.runtime_flavor());
        matches!(flavor, Ok(RuntimeFlavor::CurrentThread))
            .then(|| InlineTxs(SendWrapper::new(Coroutines::default())))
    }

    /// Runs a new transaction up to its first ledger call or its end: the message to send.
    /// Gives it back, to run on a thread instead, when [`MAX_SUSPENDED`] are already suspended
    /// or no stack can be mapped.
    pub(crate) fn start(&mut self, tx: Transaction) -> Result<ChaincodeMessage, Box<Transaction>> {
        if self.0.suspended.len() >= MAX_SUSPENDED {
            return Err(Box::new(tx));
        }
        let stack = match self.0.stacks.pop() {
            Some(stack) => stack,
            None => match DefaultStack::new(STACK_SIZE) {
                Ok(stack) => stack,
                Err(e) => {
                    tracing::warn!("cannot map a transaction stack ({e}); running it on a thread");
                    return Err(Box::new(tx));
                }
            },
        };
        let key = tx.key.clone();
        let co = Coroutine::with_stack(stack, move |yielder: &Yielder, _start| {
            tx.run(Some(yielder))
        });
        Ok(self.step(key, co, Resume::Start))
    }

    /// Resumes the transaction that waits for `reply`, if one does.
    pub(crate) fn deliver(&mut self, reply: ChaincodeMessage) -> Delivery {
        if self.0.suspended.is_empty() {
            // A threaded transaction's reply: no key to build.
            return Delivery::NotWaiting(reply);
        }
        let key = TxKey::of(&reply);
        match self.0.suspended.remove(&key) {
            Some(tx) => Delivery::Next(self.step(key, tx, Resume::Reply(reply))),
            None => Delivery::NotWaiting(reply),
        }
    }

    /// The stream ended: every suspended transaction's call fails with "disconnected", and so
    /// does each later one, until it runs to its end.
    pub(crate) fn end(&mut self) {
        for (_, mut tx) in self.0.suspended.drain() {
            while let CoroutineResult::Yield(_) = tx.resume(Resume::Disconnected) {}
        }
    }

    fn step(&mut self, key: TxKey, mut tx: Tx, input: Resume) -> ChaincodeMessage {
        match tx.resume(input) {
            CoroutineResult::Yield(request) => {
                self.0.suspended.insert(key, tx);
                request
            }
            CoroutineResult::Return(result) => {
                if self.0.stacks.len() < POOLED_STACKS {
                    self.0.stacks.push(tx.into_stack());
                }
                result
            }
        }
    }
}
