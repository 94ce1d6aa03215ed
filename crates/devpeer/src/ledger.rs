//! The world state, its history and the peer's own records (definitions, installed packages),
//! kept in one redb file under the home directory so that everything survives a restart.
//!
//! Every commit is one "block" holding one transaction, so a key's version is
//! `(block number, 0)`. Keys are stored as `namespace \0 key`: chaincode names never contain
//! a NUL, so ordering inside a namespace is the plain byte order of the keys, as in Fabric's
//! LevelDB state database.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;

use fabric_protos::prost::Message;
use fabric_protos::queryresult::KeyModification;
use redb::{Database, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::rwset::{RangeRead, RwSet, Version};

const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const HISTORY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("history");
const DEFINITIONS: TableDefinition<&str, &str> = TableDefinition::new("definitions");
const PACKAGES: TableDefinition<&str, &str> = TableDefinition::new("packages");
const TXIDS: TableDefinition<&str, u64> = TableDefinition::new("txids");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const HEIGHT: &str = "height";

/// Errors of the ledger store.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The redb database failed.
    #[error("state database: {0}")]
    Db(String),
    /// A stored record does not decode.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// A key read during simulation changed before commit.
    #[error("MVCC_READ_CONFLICT: key {namespace}/{key} changed since it was read")]
    MvccConflict {
        /// The chaincode namespace.
        namespace: String,
        /// The key.
        key: String,
    },
    #[error(
        "PHANTOM_READ_CONFLICT: range [{start}, {end}) of {namespace} changed since it was read"
    )]
    /// A range read during simulation changed before commit.
    PhantomRead {
        /// The chaincode namespace.
        namespace: String,
        /// The range's start key.
        start: String,
        /// The range's end key.
        end: String,
    },
    /// The transaction id was already committed.
    #[error("DUPLICATE_TXID: transaction {0} was already committed")]
    DuplicateTxId(String),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for LedgerError {
            fn from(e: $t) -> Self { LedgerError::Db(e.to_string()) }
        }
    )*};
}
db_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A committed chaincode definition (what `peer lifecycle chaincode commit` records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// The chaincode name.
    pub name: String,
    /// Its version (an FPC chaincode's MRENCLAVE).
    pub version: String,
    /// Its sequence, 1 for the first definition.
    pub sequence: i64,
    /// The package it runs; empty for a definition committed without one.
    pub package_id: String,
    /// Whether the first transaction must be an `Init`.
    #[serde(default)]
    pub init_required: bool,
}

/// An installed package: what its `metadata.json` said and which builder took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPackage {
    /// `label:sha256` of the package bytes.
    pub package_id: String,
    /// The label from `metadata.json`.
    pub label: String,
    /// The type from `metadata.json`.
    #[serde(rename = "type")]
    pub cc_type: String,
    /// The path from `metadata.json`.
    pub path: String,
    /// The builder that detected and built it.
    pub builder: String,
}

/// One world-state entry as read during simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    /// The version of the committed key.
    pub version: Version,
    /// Its value.
    pub value: Vec<u8>,
}

/// The redb-backed ledger.
pub struct Ledger {
    db: Database,
}

/// A consistent snapshot of the world state used by one simulation.
pub struct Snapshot {
    state: ReadOnlyTable<&'static [u8], &'static [u8]>,
    history: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

pub(crate) fn state_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(namespace.len() + 1 + key.len());
    k.extend_from_slice(namespace.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn history_prefix(namespace: &str, key: &str) -> Vec<u8> {
    // Length-prefixed so that no key's entries can be confused with a longer key's.
    let mut k = Vec::with_capacity(8 + namespace.len() + key.len() + 16);
    k.extend_from_slice(&(namespace.len() as u32).to_be_bytes());
    k.extend_from_slice(namespace.as_bytes());
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

fn encode_entry(version: Version, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + value.len());
    v.extend_from_slice(&version.block.to_be_bytes());
    v.extend_from_slice(&version.tx.to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn decode_entry(raw: &[u8]) -> Result<VersionedValue, LedgerError> {
    if raw.len() < 16 {
        return Err(LedgerError::Corrupt(
            "state entry shorter than its version".into(),
        ));
    }
    let (b, rest) = raw.split_at(8);
    let (t, value) = rest.split_at(8);
    let block = u64::from_be_bytes(
        b.try_into()
            .map_err(|_| LedgerError::Corrupt("version".into()))?,
    );
    let tx = u64::from_be_bytes(
        t.try_into()
            .map_err(|_| LedgerError::Corrupt("version".into()))?,
    );
    Ok(VersionedValue {
        version: Version { block, tx },
        value: value.to_vec(),
    })
}

impl Snapshot {
    /// The committed value and version of `key`, if present.
    pub fn get(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, LedgerError> {
        match self.state.get(state_key(namespace, key).as_slice())? {
            Some(v) => Ok(Some(decode_entry(v.value())?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` entries of `namespace` with `start <= key < end` (empty `end`: no bound).
    pub fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, LedgerError> {
        let lo = state_key(namespace, start);
        let hi = if end.is_empty() {
            // Every key of the namespace sorts below `namespace \x01`.
            let mut h = namespace.as_bytes().to_vec();
            h.push(1);
            h
        } else {
            state_key(namespace, end)
        };
        let mut out = Vec::new();
        if lo >= hi {
            return Ok(out);
        }
        let prefix_len = namespace.len() + 1;
        for item in self.state.range(lo.as_slice()..hi.as_slice())? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            let key = k
                .value()
                .get(prefix_len..)
                .and_then(|k| String::from_utf8(k.to_vec()).ok())
                .ok_or_else(|| LedgerError::Corrupt("stored key is not UTF-8".into()))?;
            out.push((key, decode_entry(v.value())?));
        }
        Ok(out)
    }

    /// Every modification of `key`, newest first (as Fabric v2 returns history).
    pub fn history(
        &self,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<KeyModification>, LedgerError> {
        let prefix = history_prefix(namespace, key);
        let mut hi = prefix.clone();
        hi.extend_from_slice(&[0xff; 17]);
        let mut out = Vec::new();
        for item in self.history.range(prefix.as_slice()..hi.as_slice())?.rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            if k.value().len() != prefix.len() + 16 {
                continue;
            }
            let m = KeyModification::decode(v.value())
                .map_err(|e| LedgerError::Corrupt(format!("history entry: {e}")))?;
            out.push(m);
        }
        Ok(out)
    }
}

impl Ledger {
    /// Opens (or creates) the ledger file.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let db = Database::create(path)?;
        let w = db.begin_write()?;
        {
            w.open_table(STATE)?;
            w.open_table(HISTORY)?;
            w.open_table(DEFINITIONS)?;
            w.open_table(PACKAGES)?;
            w.open_table(TXIDS)?;
            w.open_table(META)?;
        }
        w.commit()?;
        Ok(Ledger { db })
    }

    /// A snapshot for one simulation.
    pub fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        let r = self.db.begin_read()?;
        Ok(Snapshot {
            state: r.open_table(STATE)?,
            history: r.open_table(HISTORY)?,
        })
    }

    /// Number of committed blocks.
    pub fn height(&self) -> Result<u64, LedgerError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(META)?;
        Ok(t.get(HEIGHT)?.map(|v| v.value()).unwrap_or(0))
    }

    /// Validates `rwset` against the current state (MVCC and phantom reads) and, if it is
    /// still valid, commits its writes and history as the next block. Nothing is written
    /// when validation fails.
    pub fn commit(
        &self,
        txid: &str,
        timestamp: Option<prost_types::Timestamp>,
        rwset: &RwSet,
    ) -> Result<Version, LedgerError> {
        let w = self.db.begin_write()?;
        let version;
        {
            let mut txids = w.open_table(TXIDS)?;
            if txids.get(txid)?.is_some() {
                return Err(LedgerError::DuplicateTxId(txid.to_string()));
            }
            let mut meta = w.open_table(META)?;
            let height = meta.get(HEIGHT)?.map(|v| v.value()).unwrap_or(0);
            version = Version {
                block: height + 1,
                tx: 0,
            };
            let mut state = w.open_table(STATE)?;
            for ((ns, key), read_version) in &rwset.reads {
                let current = match state.get(state_key(ns, key).as_slice())? {
                    Some(v) => Some(decode_entry(v.value())?.version),
                    None => None,
                };
                if current != *read_version {
                    return Err(LedgerError::MvccConflict {
                        namespace: ns.clone(),
                        key: key.clone(),
                    });
                }
            }
            for rr in &rwset.range_reads {
                if !range_still_valid(&state, rr)? {
                    return Err(LedgerError::PhantomRead {
                        namespace: rr.namespace.clone(),
                        start: rr.start.clone(),
                        end: rr.end.clone(),
                    });
                }
            }
            let mut history = w.open_table(HISTORY)?;
            for ((ns, key), value) in &rwset.writes {
                let sk = state_key(ns, key);
                match value {
                    Some(v) => {
                        state.insert(sk.as_slice(), encode_entry(version, v).as_slice())?;
                    }
                    None => {
                        state.remove(sk.as_slice())?;
                    }
                }
                let mut hk = history_prefix(ns, key);
                hk.extend_from_slice(&version.block.to_be_bytes());
                hk.extend_from_slice(&version.tx.to_be_bytes());
                let m = KeyModification {
                    tx_id: txid.to_string(),
                    value: value.clone().unwrap_or_default(),
                    timestamp,
                    is_delete: value.is_none(),
                };
                history.insert(hk.as_slice(), m.encode_to_vec().as_slice())?;
            }
            txids.insert(txid, version.block)?;
            meta.insert(HEIGHT, version.block)?;
        }
        w.commit()?;
        Ok(version)
    }

    /// The committed definition of `name`.
    pub fn definition(&self, name: &str) -> Result<Option<Definition>, LedgerError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(DEFINITIONS)?;
        match t.get(name)? {
            Some(v) => serde_json::from_str(v.value())
                .map(Some)
                .map_err(|e| LedgerError::Corrupt(format!("definition {name}: {e}"))),
            None => Ok(None),
        }
    }

    /// All committed definitions, by name.
    pub fn definitions(&self) -> Result<BTreeMap<String, Definition>, LedgerError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(DEFINITIONS)?;
        let mut out = BTreeMap::new();
        for item in t.iter()? {
            let (k, v) = item?;
            let d: Definition = serde_json::from_str(v.value())
                .map_err(|e| LedgerError::Corrupt(format!("definition {}: {e}", k.value())))?;
            out.insert(k.value().to_string(), d);
        }
        Ok(out)
    }

    /// Stores a definition. Sequence rules are checked by the caller.
    pub fn put_definition(&self, d: &Definition) -> Result<(), LedgerError> {
        let json = serde_json::to_string(d).map_err(|e| LedgerError::Corrupt(e.to_string()))?;
        let w = self.db.begin_write()?;
        {
            let mut t = w.open_table(DEFINITIONS)?;
            t.insert(d.name.as_str(), json.as_str())?;
        }
        w.commit()?;
        Ok(())
    }

    /// The installed package `id`.
    pub fn package(&self, id: &str) -> Result<Option<InstalledPackage>, LedgerError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(PACKAGES)?;
        match t.get(id)? {
            Some(v) => serde_json::from_str(v.value())
                .map(Some)
                .map_err(|e| LedgerError::Corrupt(format!("package {id}: {e}"))),
            None => Ok(None),
        }
    }

    /// All installed packages, by id.
    pub fn packages(&self) -> Result<Vec<InstalledPackage>, LedgerError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(PACKAGES)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            out.push(
                serde_json::from_str(v.value())
                    .map_err(|e| LedgerError::Corrupt(format!("package {}: {e}", k.value())))?,
            );
        }
        Ok(out)
    }

    /// Records an installed package.
    pub fn put_package(&self, p: &InstalledPackage) -> Result<(), LedgerError> {
        let json = serde_json::to_string(p).map_err(|e| LedgerError::Corrupt(e.to_string()))?;
        let w = self.db.begin_write()?;
        {
            let mut t = w.open_table(PACKAGES)?;
            t.insert(p.package_id.as_str(), json.as_str())?;
        }
        w.commit()?;
        Ok(())
    }
}

fn range_still_valid(
    state: &redb::Table<&[u8], &[u8]>,
    rr: &RangeRead,
) -> Result<bool, LedgerError> {
    let lo = state_key(&rr.namespace, &rr.start);
    let hi = if rr.exhausted {
        if rr.end.is_empty() {
            let mut h = rr.namespace.as_bytes().to_vec();
            h.push(1);
            h
        } else {
            state_key(&rr.namespace, &rr.end)
        }
    } else {
        match rr.results.last() {
            // Only the part of the range the chaincode actually consumed is checked.
            Some((last, _)) => {
                let mut h = state_key(&rr.namespace, last);
                h.push(0);
                h
            }
            None => return Ok(true),
        }
    };
    let prefix_len = rr.namespace.len() + 1;
    let mut now: Vec<(String, Version)> = Vec::new();
    if lo < hi {
        for item in state.range(lo.as_slice()..hi.as_slice())? {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(k.value().get(prefix_len..).unwrap_or_default())
                .into_owned();
            now.push((key, decode_entry(v.value())?.version));
        }
    }
    Ok(now == rr.results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::Simulation;

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.redb")).unwrap();
        (dir, l)
    }

    #[test]
    fn mvcc_conflict_commits_nothing() {
        let (_d, l) = ledger();
        let mut seed = Simulation::new(l.snapshot().unwrap());
        seed.put("cc", "k", Some(b"0".to_vec())).unwrap();
        l.commit("t0", None, &seed.rwset).unwrap();

        // Two transactions simulated on the same state both read and write k.
        let mut a = Simulation::new(l.snapshot().unwrap());
        let mut b = Simulation::new(l.snapshot().unwrap());
        assert_eq!(a.get("cc", "k").unwrap(), b"0");
        assert_eq!(b.get("cc", "k").unwrap(), b"0");
        a.put("cc", "k", Some(b"a".to_vec())).unwrap();
        b.put("cc", "k", Some(b"b".to_vec())).unwrap();
        b.put("cc", "other", Some(b"b".to_vec())).unwrap();
        l.commit("ta", None, &a.rwset).unwrap();
        let e = l.commit("tb", None, &b.rwset).unwrap_err();
        assert!(matches!(e, LedgerError::MvccConflict { .. }), "{e}");
        let s = l.snapshot().unwrap();
        assert_eq!(s.get("cc", "k").unwrap().unwrap().value, b"a");
        assert!(s.get("cc", "other").unwrap().is_none());
        assert_eq!(l.height().unwrap(), 2);
        // A replayed transaction id is refused.
        let e = l.commit("ta", None, &RwSet::default()).unwrap_err();
        assert!(matches!(e, LedgerError::DuplicateTxId(_)));
    }

    #[test]
    fn phantom_read_is_detected() {
        let (_d, l) = ledger();
        let mut seed = Simulation::new(l.snapshot().unwrap());
        seed.put("cc", "a1", Some(b"1".to_vec())).unwrap();
        l.commit("t0", None, &seed.rwset).unwrap();

        let mut a = Simulation::new(l.snapshot().unwrap());
        let mut it = a.range("cc", "a", "b").unwrap();
        let (batch, more) = it.next_batch();
        assert_eq!((batch.len(), more), (1, false));
        a.finish(it);
        a.put("cc", "count", Some(b"1".to_vec())).unwrap();

        let mut insert = Simulation::new(l.snapshot().unwrap());
        insert.put("cc", "a2", Some(b"2".to_vec())).unwrap();
        l.commit("t1", None, &insert.rwset).unwrap();
        let e = l.commit("ta", None, &a.rwset).unwrap_err();
        assert!(matches!(e, LedgerError::PhantomRead { .. }), "{e}");
    }

    #[test]
    fn history_is_newest_first_and_keys_do_not_bleed() {
        let (_d, l) = ledger();
        for (i, v) in [Some(b"1".to_vec()), Some(b"2".to_vec()), None]
            .into_iter()
            .enumerate()
        {
            let mut s = Simulation::new(l.snapshot().unwrap());
            s.put("cc", "k", v).unwrap();
            s.put("cc", "k\u{0}x", Some(b"other".to_vec())).unwrap();
            l.commit(&format!("t{i}"), None, &s.rwset).unwrap();
        }
        let h = l.snapshot().unwrap().history("cc", "k", 100).unwrap();
        assert_eq!(h.len(), 3);
        assert!(h[0].is_delete);
        assert_eq!(h[1].value, b"2");
        assert_eq!(h[2].tx_id, "t0");
    }
}
