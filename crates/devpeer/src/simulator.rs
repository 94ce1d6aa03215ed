//! Transaction simulation: reads go to a snapshot of the committed state (no read-your-writes,
//! as in Fabric), writes are buffered, and everything read or written lands in the read/write
//! set. Range and history iterators hand results out in batches of 100.
#![deny(clippy::indexing_slicing)]

use std::collections::VecDeque;

use fabric_protos::prost::Message;
use fabric_protos::queryresult::{KeyModification, Kv};

use crate::ledger::{LedgerError, Snapshot};
use crate::rwset::{RangeRead, RwSet, Version};

/// Results per QueryResponse batch (Fabric's `maxResultLimit`).
pub const BATCH: usize = 100;
/// Cap on one range query (Fabric's code default `totalQueryLimit`).
pub const TOTAL_QUERY_LIMIT: usize = 10_000;

/// Simulation errors, sent back to the chaincode as ERROR payloads.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Reading the snapshot failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// A write after a paginated query (Fabric refuses it).
    #[error("the transaction has already performed a paginated query and hence should not write")]
    WriteAfterPaginated,
    /// A paginated query after a write (Fabric refuses it).
    #[error("the transaction has already performed a write and hence should not be called for paginated queries")]
    PaginatedAfterWrite,
}

/// One simulation, shared by the chaincodes of a transaction (chaincode-to-chaincode calls
/// write into the same read/write set).
pub struct Simulation {
    snapshot: Snapshot,
    /// What the simulation read and wrote so far.
    pub rwset: RwSet,
    paginated: bool,
}

/// An open iterator of one transaction.
pub struct QueryIter {
    pending: VecDeque<Vec<u8>>,
    range: Option<(RangeRead, VecDeque<(String, Version)>)>,
}

impl Simulation {
    /// A simulation over `snapshot`.
    pub fn new(snapshot: Snapshot) -> Simulation {
        Simulation {
            snapshot,
            rwset: RwSet::default(),
            paginated: false,
        }
    }

    /// GET_STATE: the committed value (empty when absent), recorded as a read.
    pub fn get(&mut self, ns: &str, key: &str) -> Result<Vec<u8>, SimError> {
        let v = self.snapshot.get(ns, key)?;
        self.rwset
            .record_read(ns, key, v.as_ref().map(|v| v.version));
        Ok(v.map(|v| v.value).unwrap_or_default())
    }

    /// PUT_STATE (an empty value deletes) or DEL_STATE (`None`).
    pub fn put(&mut self, ns: &str, key: &str, value: Option<Vec<u8>>) -> Result<(), SimError> {
        if self.paginated {
            return Err(SimError::WriteAfterPaginated);
        }
        let value = value.filter(|v| !v.is_empty());
        self.rwset.record_write(ns, key, value);
        Ok(())
    }

    /// GET_STATE_BY_RANGE without pagination: an iterator over `[start, end)`.
    pub fn range(&mut self, ns: &str, start: &str, end: &str) -> Result<QueryIter, SimError> {
        let items = self.snapshot.range(ns, start, end, TOTAL_QUERY_LIMIT)?;
        let mut pending = VecDeque::with_capacity(items.len());
        let mut versions = VecDeque::with_capacity(items.len());
        for (key, vv) in items {
            pending.push_back(
                Kv {
                    namespace: ns.to_string(),
                    key: key.clone(),
                    value: vv.value,
                }
                .encode_to_vec(),
            );
            versions.push_back((key, vv.version));
        }
        Ok(QueryIter {
            pending,
            range: Some((
                RangeRead {
                    namespace: ns.to_string(),
                    start: start.to_string(),
                    end: end.to_string(),
                    exhausted: false,
                    results: Vec::new(),
                },
                versions,
            )),
        })
    }

    /// GET_STATE_BY_RANGE with pagination: one page and the bookmark to continue from.
    pub fn range_page(
        &mut self,
        ns: &str,
        start: &str,
        end: &str,
        page_size: usize,
        bookmark: &str,
    ) -> Result<(Vec<Vec<u8>>, String), SimError> {
        if !self.rwset.is_read_only() {
            return Err(SimError::PaginatedAfterWrite);
        }
        self.paginated = true;
        let from = if bookmark.is_empty() { start } else { bookmark };
        let limit = if page_size == 0 {
            TOTAL_QUERY_LIMIT
        } else {
            page_size.min(TOTAL_QUERY_LIMIT)
        };
        let mut items = self.snapshot.range(ns, from, end, limit + 1)?;
        let next = if items.len() > limit {
            items.pop().map(|(k, _)| k).unwrap_or_default()
        } else {
            String::new()
        };
        let out = items
            .into_iter()
            .map(|(key, vv)| {
                Kv {
                    namespace: ns.to_string(),
                    key,
                    value: vv.value,
                }
                .encode_to_vec()
            })
            .collect();
        Ok((out, next))
    }

    /// GET_HISTORY_FOR_KEY: every committed modification, newest first.
    pub fn history(&mut self, ns: &str, key: &str) -> Result<QueryIter, SimError> {
        let mods: Vec<KeyModification> = self.snapshot.history(ns, key, TOTAL_QUERY_LIMIT)?;
        Ok(QueryIter {
            pending: mods.into_iter().map(|m| m.encode_to_vec()).collect(),
            range: None,
        })
    }

    /// Records what a range iterator handed out once it is finished or closed.
    pub fn finish(&mut self, it: QueryIter) {
        if let Some((mut rr, rest)) = it.range {
            rr.exhausted = rest.is_empty();
            self.rwset.range_reads.push(rr);
        }
    }
}

impl QueryIter {
    /// The next batch of encoded results and whether more remain.
    pub fn next_batch(&mut self) -> (Vec<Vec<u8>>, bool) {
        let n = self.pending.len().min(BATCH);
        let batch: Vec<Vec<u8>> = self.pending.drain(..n).collect();
        if let Some((rr, versions)) = &mut self.range {
            rr.results.extend(versions.drain(..n.min(versions.len())));
        }
        (batch, !self.pending.is_empty())
    }
}
