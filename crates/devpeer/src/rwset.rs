//! The read/write set a simulation collects, and its deterministic encoding used to compare
//! the results of several endorsers.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;

use serde::Serialize;

/// Version of a committed key: the block that wrote it and the position in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    /// The block number.
    pub block: u64,
    /// The transaction's position in it.
    pub tx: u64,
}

/// A range the chaincode iterated, with what it saw, for phantom-read validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeRead {
    /// The chaincode namespace.
    pub namespace: String,
    /// The range's start key (inclusive).
    pub start: String,
    /// Its end key (exclusive; empty = to the end).
    pub end: String,
    /// The iterator reached the end of the range (so the whole range is validated).
    pub exhausted: bool,
    /// The keys seen, with their versions.
    pub results: Vec<(String, Version)>,
}

/// Reads (with the version seen; `None` = absent), range reads and writes (`None` = delete).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RwSet {
    /// Keys read, with the version seen.
    pub reads: BTreeMap<(String, String), Option<Version>>,
    /// Ranges iterated.
    pub range_reads: Vec<RangeRead>,
    /// Keys written (`None` deletes).
    pub writes: BTreeMap<(String, String), Option<Vec<u8>>>,
}

impl RwSet {
    /// Records a read unless the key was already read (Fabric keeps the first version seen).
    pub fn record_read(&mut self, namespace: &str, key: &str, version: Option<Version>) {
        self.reads
            .entry((namespace.to_string(), key.to_string()))
            .or_insert(version);
    }

    /// Records a write (last write wins).
    pub fn record_write(&mut self, namespace: &str, key: &str, value: Option<Vec<u8>>) {
        self.writes
            .insert((namespace.to_string(), key.to_string()), value);
    }

    /// True when the transaction writes nothing.
    pub fn is_read_only(&self) -> bool {
        self.writes.is_empty()
    }

    /// Canonical bytes for comparing endorsements: same bytes iff same read/write set.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // serde_json over BTreeMaps and Vecs is deterministic.
        serde_json::to_vec(&CanonicalRwSet::from(self)).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct CanonicalRwSet<'a> {
    reads: Vec<(&'a str, &'a str, Option<Version>)>,
    range_reads: &'a [RangeRead],
    writes: Vec<(&'a str, &'a str, Option<String>)>,
}

impl<'a> From<&'a RwSet> for CanonicalRwSet<'a> {
    fn from(r: &'a RwSet) -> Self {
        CanonicalRwSet {
            reads: r
                .reads
                .iter()
                .map(|((n, k), v)| (n.as_str(), k.as_str(), *v))
                .collect(),
            range_reads: &r.range_reads,
            writes: r
                .writes
                .iter()
                .map(|((n, k), v)| (n.as_str(), k.as_str(), v.as_ref().map(hex::encode)))
                .collect(),
        }
    }
}
