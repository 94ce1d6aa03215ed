//! Per-transaction reply routing: which transactions are running on a stream and which one is
//! waiting for the peer's answer. Keyed by a (channel, txid) pair, never by concatenation, so
//! `("ab","c")` and `("a","bc")` stay distinct.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use fabric_protos::peer::ChaincodeMessage;
use tokio::sync::oneshot;

use crate::error::StubError;

/// Identifies a transaction on a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TxKey {
    pub(crate) channel: String,
    pub(crate) txid: String,
}

impl TxKey {
    pub(crate) fn of(msg: &ChaincodeMessage) -> Self {
        TxKey {
            channel: msg.channel_id.clone(),
            txid: msg.txid.clone(),
        }
    }
}

#[derive(Default)]
struct Table {
    /// Running transactions; `Some` while one waits for a reply.
    running: HashMap<TxKey, Option<oneshot::Sender<ChaincodeMessage>>>,
    /// Set when the stream ended: no new waiters may register.
    closed: bool,
}

/// The running transactions of one stream.
#[derive(Default)]
pub(crate) struct InFlight {
    table: Mutex<Table>,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding this lock cannot leave the table half-updated (every critical
        // section is a single map operation), so a poisoned lock is still consistent.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a transaction as running. `false` if it already runs (a duplicate INIT/TRANSACTION).
    pub(crate) fn begin(&self, key: TxKey) -> bool {
        let mut t = self.lock();
        if t.running.contains_key(&key) {
            return false;
        }
        t.running.insert(key, None);
        true
    }

    pub(crate) fn finish(&self, key: &TxKey) {
        self.lock().running.remove(key);
    }

    pub(crate) fn running(&self) -> usize {
        self.lock().running.len()
    }

    /// Registers the single outstanding request of a transaction.
    pub(crate) fn wait_for_reply(
        &self,
        key: &TxKey,
    ) -> Result<oneshot::Receiver<ChaincodeMessage>, StubError> {
        let mut t = self.lock();
        if t.closed {
            return Err(StubError::Disconnected);
        }
        let slot = t
            .running
            .get_mut(key)
            .ok_or_else(|| StubError::InvalidArgument("transaction is no longer running".into()))?;
        if slot.is_some() {
            // The peer silently drops a second concurrent request for a txid, which would hang
            // the caller; refuse it here instead.
            return Err(StubError::InvalidArgument(
                "another request is already pending for this transaction".into(),
            ));
        }
        let (tx, rx) = oneshot::channel();
        *slot = Some(tx);
        Ok(rx)
    }

    /// Withdraws a registered waiter whose request could not be sent.
    pub(crate) fn cancel_wait(&self, key: &TxKey) {
        if let Some(slot) = self.lock().running.get_mut(key) {
            *slot = None;
        }
    }

    /// Hands a RESPONSE/ERROR to the waiting transaction; gives the message back if none waits.
    pub(crate) fn deliver(&self, msg: ChaincodeMessage) -> Result<(), Box<ChaincodeMessage>> {
        let key = TxKey::of(&msg);
        let waiter = self.lock().running.get_mut(&key).and_then(Option::take);
        match waiter {
            Some(tx) => tx.send(msg).map_err(Box::new),
            None => Err(Box::new(msg)),
        }
    }

    /// The stream ended: wake every waiter with "disconnected" and refuse new ones.
    pub(crate) fn close(&self) {
        let mut t = self.lock();
        t.closed = true;
        for slot in t.running.values_mut() {
            slot.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(channel: &str, txid: &str) -> TxKey {
        TxKey {
            channel: channel.into(),
            txid: txid.into(),
        }
    }

    fn reply(channel: &str, txid: &str) -> ChaincodeMessage {
        ChaincodeMessage {
            channel_id: channel.into(),
            txid: txid.into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_outstanding_request_per_transaction() {
        let f = InFlight::default();
        assert!(f.begin(key("ch", "t")));
        assert!(!f.begin(key("ch", "t")), "duplicate transaction");
        let mut rx = f.wait_for_reply(&key("ch", "t")).unwrap();
        assert!(
            f.wait_for_reply(&key("ch", "t")).is_err(),
            "second concurrent request refused"
        );
        f.deliver(reply("ch", "t")).unwrap();
        assert_eq!(rx.try_recv().unwrap().txid, "t");
        // The slot is free again after the reply.
        let _rx = f.wait_for_reply(&key("ch", "t")).unwrap();
        f.cancel_wait(&key("ch", "t"));
        assert!(
            f.deliver(reply("ch", "t")).is_err(),
            "nobody waits after cancel"
        );
    }

    #[test]
    fn keys_are_pairs_not_concatenations() {
        let f = InFlight::default();
        assert!(f.begin(key("ab", "c")));
        assert!(f.begin(key("a", "bc")));
        let _rx = f.wait_for_reply(&key("ab", "c")).unwrap();
        assert!(f.deliver(reply("a", "bc")).is_err());
        assert!(f.deliver(reply("ab", "c")).is_ok());
        assert!(
            f.wait_for_reply(&key("zz", "c")).is_err(),
            "unknown transaction"
        );
    }

    #[test]
    fn close_wakes_waiters_and_refuses_new_ones() {
        let f = InFlight::default();
        assert!(f.begin(key("ch", "t")));
        let mut rx = f.wait_for_reply(&key("ch", "t")).unwrap();
        f.close();
        assert!(rx.try_recv().is_err());
        assert_eq!(
            f.wait_for_reply(&key("ch", "t")).unwrap_err(),
            StubError::Disconnected
        );
        f.finish(&key("ch", "t"));
        assert_eq!(f.running(), 0);
    }
}
