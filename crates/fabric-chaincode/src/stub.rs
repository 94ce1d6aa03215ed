//! The per-transaction API handed to chaincode: transaction data derived from the proposal,
//! and ledger calls that each send one request and return with the peer's reply (blocking a
//! transaction's thread, or suspending an inline transaction's coroutine).

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::peer::chaincode_message::Type;
use fabric_protos::peer::write_record::Type as RecordType;
use fabric_protos::peer::{
    ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage, ChaincodeProposalPayload,
    ChaincodeSpec, DelState, GetHistoryForKey, GetQueryResult, GetState, GetStateByRange,
    GetStateMetadata, GetStateMultiple, GetStateMultipleResult, Proposal, PutState,
    PutStateMetadata, QueryMetadata, QueryResponse, QueryResponseMetadata, QueryResultBytes,
    QueryStateClose, QueryStateNext, Response, SignedProposal, StateMetadata, StateMetadataResult,
    WriteBatchState, WriteRecord,
};
use fabric_protos::queryresult::{KeyModification, Kv};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::chaincode::ERROR;
use crate::error::StubError;
use crate::handler::{short, Conn, MAX_MESSAGE_SIZE};
use crate::inflight::TxKey;
use crate::keys::{partial_composite_key_range, validate_simple_keys};

/// Start key the Go shim substitutes for an empty range start, so simple-key ranges never
/// include composite keys (which start with 0x00).
const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";
/// Metadata key of key-level endorsement policies (`MetaDataKeys` name, as the Go shim uses it).
const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// What resumes an inline transaction's coroutine (see [`Execution::Inline`]).
///
/// [`Execution::Inline`]: crate::Execution::Inline
#[allow(clippy::large_enum_variant)] // moved once per resume; boxing would allocate per reply
pub(crate) enum Resume {
    /// Its first run.
    Start,
    /// The peer's answer to the request it suspended with.
    Reply(ChaincodeMessage),
    /// The stream ended while it waited.
    Disconnected,
}

/// How an inline transaction's ledger calls suspend: with the request to send, until resumed.
pub(crate) type Yielder = corosensei::Yielder<Resume, ChaincodeMessage>;

/// Everything a transaction message and its proposal say about the transaction.
pub(crate) struct TxData {
    pub(crate) args: Vec<Vec<u8>>,
    decorations: BTreeMap<String, Vec<u8>>,
    signed_proposal: Option<SignedProposal>,
    timestamp: Option<prost_types::Timestamp>,
    creator_bytes: Vec<u8>,
    creator: Option<SerializedIdentity>,
    transient: BTreeMap<String, Vec<u8>>,
    /// `SignatureHeader.nonce` and `ChannelHeader.epoch`; `None` without a proposal.
    binding_input: Option<(Vec<u8>, u64)>,
    /// The binding, computed on first use: few transactions ask for it, and hashing the
    /// creator's certificate is a large share of a small transaction's CPU.
    binding: OnceLock<Vec<u8>>,
}

impl TxData {
    /// Decodes the input and proposal; the error text is what goes back in the ERROR message.
    pub(crate) fn from_message(msg: ChaincodeMessage) -> Result<TxData, String> {
        let input = ChaincodeInput::decode(msg.payload.as_slice())
            .map_err(|e| format!("[{}] failed to unmarshal input: {e}", short(&msg.txid)))?;
        let mut data = TxData {
            args: input.args,
            decorations: input.decorations.into_iter().collect(),
            signed_proposal: None,
            timestamp: None,
            creator_bytes: Vec::new(),
            creator: None,
            transient: BTreeMap::new(),
            binding_input: None,
            binding: OnceLock::new(),
        };
        if let Some(sp) = msg.proposal {
            data.read_proposal(&sp).map_err(|e| {
                format!(
                    "[{}] failed to create new ChaincodeStub: {e}",
                    short(&msg.txid)
                )
            })?;
            data.signed_proposal = Some(sp);
        }
        Ok(data)
    }

    fn read_proposal(&mut self, sp: &SignedProposal) -> Result<(), String> {
        let proposal = Proposal::decode(sp.proposal_bytes.as_slice())
            .map_err(|e| format!("failed to extract Proposal from SignedProposal: {e}"))?;
        let header = Header::decode(proposal.header.as_slice())
            .map_err(|e| format!("failed to extract Header from Proposal: {e}"))?;
        let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
            .map_err(|e| format!("failed to extract ChannelHeader: {e}"))?;
        let ty = channel_header.r#type;
        if ty != HeaderType::EndorserTransaction as i32 && ty != HeaderType::Config as i32 {
            return Err(format!(
                "invalid channel header type. Expected ENDORSER_TRANSACTION or CONFIG, received {}",
                HeaderType::try_from(ty)
                    .map(|t| t.as_str_name().to_owned())
                    .unwrap_or_else(|_| ty.to_string())
            ));
        }
        let signature_header = SignatureHeader::decode(header.signature_header.as_slice())
            .map_err(|e| format!("failed to extract SignatureHeader: {e}"))?;
        let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice())
            .map_err(|e| format!("failed to extract ChaincodeProposalPayload: {e}"))?;

        self.binding_input = Some((signature_header.nonce, channel_header.epoch));
        self.timestamp = channel_header.timestamp;
        // The Go shim keeps the creator as bytes; we also decode it, leniently, for callers
        // that want the MSP id. Undecodable bytes leave `creator()` empty.
        self.creator = SerializedIdentity::decode(signature_header.creator.as_slice()).ok();
        self.creator_bytes = signature_header.creator;
        self.transient = payload.transient_map.into_iter().collect();
        Ok(())
    }

    /// `SHA-256(nonce ‖ creator ‖ epoch as 8 little-endian bytes)`, as the Go shim derives it.
    fn binding(&self) -> Option<&[u8]> {
        let (nonce, epoch) = self.binding_input.as_ref()?;
        let binding = self.binding.get_or_init(|| {
            let mut hasher = Sha256::new();
            hasher.update(nonce);
            hasher.update(&self.creator_bytes);
            hasher.update(epoch.to_le_bytes());
            hasher.finalize().to_vec()
        });
        Some(binding)
    }
}

/// One page of a paginated query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records of this page.
    pub results: Vec<T>,
    /// How many records the peer fetched.
    pub fetched_records_count: i32,
    /// Pass this as the bookmark of the next call to continue after this page.
    pub bookmark: String,
}

/// The per-transaction view of the ledger and of the proposal.
///
/// Ledger calls take `&self` so a query iterator can stay open while other calls are made
/// (as in Go: iterate keys, `get_state` each). They still run one at a time: each returns
/// once the peer answers, and the stub stays on the transaction's thread (it is neither
/// `Send` nor `Sync`), because the peer silently drops a second concurrent request.
pub struct ChaincodeStub<'y> {
    conn: Arc<Conn>,
    key: TxKey,
    data: TxData,
    event: Option<ChaincodeEvent>,
    /// Writes held back for WRITE_BATCH_STATE while a write batch is open.
    batch: Mutex<Option<WriteBatch>>,
    /// `Some` for an inline transaction: its calls suspend the coroutine instead of blocking.
    inline: Option<&'y Yielder>,
}

/// The writes of an open batch, one per (collection, key, data or metadata): a later write of
/// the same slot replaces the earlier one, as in the Go shim. Ordered, so what is sent is
/// deterministic.
type WriteBatch = BTreeMap<(String, String, bool), WriteRecord>;

impl<'y> ChaincodeStub<'y> {
    pub(crate) fn new(
        conn: Arc<Conn>,
        key: TxKey,
        data: TxData,
        inline: Option<&'y Yielder>,
    ) -> Self {
        ChaincodeStub {
            conn,
            key,
            data,
            event: None,
            batch: Mutex::new(None),
            inline,
        }
    }

    fn batch(&self) -> MutexGuard<'_, Option<WriteBatch>> {
        // Every critical section is one map operation: a poisoned lock is still consistent.
        self.batch.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn take_event(&mut self) -> Option<ChaincodeEvent> {
        self.event.take()
    }

    // ----- transaction data -----

    /// The raw arguments (`ChaincodeInput.args`).
    pub fn args(&self) -> &[Vec<u8>] {
        &self.data.args
    }

    /// The arguments as strings (invalid UTF-8 replaced by U+FFFD).
    pub fn string_args(&self) -> Vec<String> {
        self.data
            .args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    /// `args[0]` and the rest, as strings; an empty function name when there are no arguments.
    pub fn function_and_parameters(&self) -> (String, Vec<String>) {
        let mut args = self.string_args().into_iter();
        let function = args.next().unwrap_or_default();
        (function, args.collect())
    }

    /// The transaction id.
    pub fn tx_id(&self) -> &str {
        &self.key.txid
    }

    /// The channel the transaction runs on.
    pub fn channel_id(&self) -> &str {
        &self.key.channel
    }

    /// `ChannelHeader.timestamp` of the proposal: the only clock endorsement may use.
    pub fn tx_timestamp(&self) -> Option<prost_types::Timestamp> {
        self.data.timestamp
    }

    /// The submitting client's identity; `None` without a proposal or with undecodable bytes.
    pub fn creator(&self) -> Option<&SerializedIdentity> {
        self.data.creator.as_ref()
    }

    /// `SignatureHeader.creator` exactly as received (Go's `GetCreator`); empty without a proposal.
    pub fn creator_bytes(&self) -> &[u8] {
        &self.data.creator_bytes
    }

    /// The client's signed proposal, when the peer sent one.
    pub fn signed_proposal(&self) -> Option<&SignedProposal> {
        self.data.signed_proposal.as_ref()
    }

    /// The proposal's transient map (never written to the ledger).
    pub fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.data.transient
    }

    /// The peer's decorations (`ChaincodeInput.decorations`).
    pub fn decorations(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.data.decorations
    }

    /// `SHA-256(nonce ‖ creator ‖ epoch as 8 little-endian bytes)`; `None` without a proposal.
    pub fn binding(&self) -> Option<&[u8]> {
        self.data.binding()
    }

    /// The peer's MSP id (`CORE_PEER_LOCALMSPID`), when set.
    pub fn msp_id(&self) -> Option<&str> {
        self.conn.msp_id.as_deref()
    }

    /// Sets the event sent with the result. Only the last one is kept; the name must not be empty.
    pub fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::InvalidArgument(
                "event name can not be empty string".into(),
            ));
        }
        self.event = Some(ChaincodeEvent {
            event_name: name.to_owned(),
            payload: payload.to_vec(),
            ..Default::default()
        });
        Ok(())
    }

    // ----- request/reply plumbing -----

    /// Sends one request for this transaction and returns the peer's answer.
    fn call(&self, ty: Type, payload: Vec<u8>) -> Result<Vec<u8>, StubError> {
        let msg = ChaincodeMessage {
            r#type: ty as i32,
            payload,
            txid: self.key.txid.clone(),
            channel_id: self.key.channel.clone(),
            ..Default::default()
        };
        let size = msg.encoded_len();
        if size > MAX_MESSAGE_SIZE {
            return Err(StubError::TooLarge {
                size,
                limit: MAX_MESSAGE_SIZE,
            });
        }
        let reply = match self.inline {
            Some(yielder) => self.suspend(yielder, msg)?,
            None => self.block(msg)?,
        };
        match Type::try_from(reply.r#type) {
            Ok(Type::Response) => Ok(reply.payload),
            Ok(Type::Error) => Err(StubError::Peer(
                String::from_utf8_lossy(&reply.payload).into_owned(),
            )),
            _ => Err(StubError::BadReply(format!(
                "[{}] expected RESPONSE or ERROR to {}, got {}",
                short(&self.key.txid),
                ty.as_str_name(),
                crate::handler::type_name(reply.r#type)
            ))),
        }
    }

    /// An inline transaction's round trip: the stream's loop sends `msg` and resumes the
    /// coroutine with the reply (or, once the stream ended, with "disconnected").
    fn suspend(
        &self,
        yielder: &Yielder,
        msg: ChaincodeMessage,
    ) -> Result<ChaincodeMessage, StubError> {
        match yielder.suspend(msg) {
            Resume::Reply(reply) => Ok(reply),
            Resume::Start | Resume::Disconnected => Err(StubError::Disconnected),
        }
    }

    /// A threaded transaction's round trip: queue `msg`, block until the loop routes the reply.
    fn block(&self, msg: ChaincodeMessage) -> Result<ChaincodeMessage, StubError> {
        let reply = self.conn.inflight.wait_for_reply(&self.key)?;
        if !self.conn.send_blocking(msg) {
            self.conn.inflight.cancel_wait(&self.key);
            return Err(StubError::Disconnected);
        }
        reply.blocking_recv().map_err(|_| StubError::Disconnected)
    }

    fn query(&self, ty: Type, payload: Vec<u8>) -> Result<QueryResponse, StubError> {
        let bytes = self.call(ty, payload)?;
        QueryResponse::decode(bytes.as_slice())
            .map_err(|e| StubError::BadReply(format!("undecodable QueryResponse: {e}")))
    }

    fn iterator<T: Message + Default>(
        &self,
        ty: Type,
        payload: Vec<u8>,
    ) -> Result<QueryIterator<'_, T>, StubError> {
        let response = self.query(ty, payload)?;
        Ok(QueryIterator::new(self, response))
    }

    fn page(&self, ty: Type, payload: Vec<u8>) -> Result<Page<Kv>, StubError> {
        let response = self.query(ty, payload)?;
        let metadata = QueryResponseMetadata::decode(response.metadata.as_slice())
            .map_err(|e| StubError::BadReply(format!("undecodable QueryResponseMetadata: {e}")))?;
        let results = response
            .results
            .iter()
            .map(decode_record::<Kv>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            results,
            fetched_records_count: metadata.fetched_records_count,
            bookmark: metadata.bookmark,
        })
    }

    // ----- public state -----

    /// Reads a key. `None` when it does not exist (the peer answers a miss with an empty value).
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        self.get(Type::GetState, key, "")
    }

    /// Writes a key. An empty value deletes the key, as on the peer.
    pub fn put_state(&self, key: &str, value: &[u8]) -> Result<(), StubError> {
        self.put(key, value, "")
    }

    /// Deletes a key.
    pub fn del_state(&self, key: &str) -> Result<(), StubError> {
        self.del(key, "", Type::DelState)
    }

    /// Whether [`get_multiple_states`](Self::get_multiple_states) reads several keys in one
    /// round trip: the peer offers GET_STATE_MULTIPLE (Fabric 3.1+). A chaincode may read a
    /// key ahead of need only then, and keep an older peer's exact sequence of reads.
    pub fn reads_keys_together(&self) -> bool {
        self.conn.params().get_multiple.is_some()
    }

    /// Reads several keys; the values come in the order of `keys`, `None` for a missing key.
    /// Like any read, it does not see this transaction's own writes. On a peer that offers
    /// GET_STATE_MULTIPLE (Fabric 3.1+) this takes one round trip per batch of keys the peer
    /// allows; otherwise one GET_STATE per key (Go's `GetMultipleStates`).
    pub fn get_multiple_states(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StubError> {
        let Some(max) = self.conn.params().get_multiple else {
            return keys.iter().map(|k| self.get_state(k)).collect();
        };
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(max) {
            let payload = GetStateMultiple {
                keys: chunk.iter().map(|k| (*k).to_owned()).collect(),
                collection: String::new(),
            }
            .encode_to_vec();
            let bytes = self.call(Type::GetStateMultiple, payload)?;
            let result = GetStateMultipleResult::decode(bytes.as_slice()).map_err(|e| {
                StubError::BadReply(format!("undecodable GetStateMultipleResult: {e}"))
            })?;
            if result.values.len() != chunk.len() {
                return Err(StubError::BadReply(format!(
                    "GET_STATE_MULTIPLE for {} keys answered {} values",
                    chunk.len(),
                    result.values.len()
                )));
            }
            values.extend(
                result
                    .values
                    .into_iter()
                    .map(|v| (!v.is_empty()).then_some(v)),
            );
        }
        Ok(values)
    }

    /// Starts holding back writes (put, delete, purge, validation parameters) to send them in
    /// WRITE_BATCH_STATE messages at [`finish_write_batch`](Self::finish_write_batch) or when
    /// the transaction ends, saving a round trip per write. As in the Go shim this is an
    /// explicit choice: a rejected write then fails the transaction at the end rather than at
    /// the call. Does nothing on a peer that does not offer write batches (before Fabric 3.1)
    /// or when a batch is already open.
    pub fn start_write_batch(&self) {
        if self.conn.params().write_batch.is_some() {
            self.batch().get_or_insert_with(BTreeMap::new);
        }
    }

    /// Sends the held-back writes (in as many messages as the peer's batch size needs) and
    /// closes the batch; nothing when no batch is open.
    pub fn finish_write_batch(&self) -> Result<(), StubError> {
        let Some(writes) = self.batch().take() else {
            return Ok(());
        };
        let max = self.conn.params().write_batch.unwrap_or(usize::MAX);
        let mut records = writes.into_values().peekable();
        while records.peek().is_some() {
            let rec: Vec<WriteRecord> = records.by_ref().take(max).collect();
            self.call(
                Type::WriteBatchState,
                WriteBatchState { rec }.encode_to_vec(),
            )?;
        }
        Ok(())
    }

    /// Iterates over `[start, end)`; an empty `end` means no upper bound. Composite keys are
    /// never included (an empty start becomes "\x01", bounds must not start with 0x00).
    pub fn get_state_by_range(
        &self,
        start: &str,
        end: &str,
    ) -> Result<StateIterator<'_>, StubError> {
        let start = simple_range_start(start, end)?;
        let payload = range_request(&start, end, "", Vec::new());
        self.iterator(Type::GetStateByRange, payload)
    }

    /// One page of `[start, end)`; a non-empty bookmark replaces `start`.
    pub fn get_state_by_range_with_pagination(
        &self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page<Kv>, StubError> {
        let start = simple_range_start(start, end)?;
        let payload = range_request(&start, end, "", query_metadata(page_size, bookmark)?);
        self.page(Type::GetStateByRange, payload)
    }

    /// Iterates over all composite keys that start with `object_type` and `attrs`.
    pub fn get_state_by_partial_composite_key(
        &self,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<StateIterator<'_>, StubError> {
        let (start, end) = partial_composite_key_range(object_type, attrs)?;
        let payload = range_request(&start, &end, "", Vec::new());
        self.iterator(Type::GetStateByRange, payload)
    }

    /// One page of the keys that start with `object_type` and `attrs`.
    pub fn get_state_by_partial_composite_key_with_pagination(
        &self,
        object_type: &str,
        attrs: &[&str],
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page<Kv>, StubError> {
        let (start, end) = partial_composite_key_range(object_type, attrs)?;
        let payload = range_request(&start, &end, "", query_metadata(page_size, bookmark)?);
        self.page(Type::GetStateByRange, payload)
    }

    /// Runs a rich query (CouchDB state databases only).
    pub fn get_query_result(&self, query: &str) -> Result<StateIterator<'_>, StubError> {
        let payload = GetQueryResult {
            query: query.to_owned(),
            ..Default::default()
        }
        .encode_to_vec();
        self.iterator(Type::GetQueryResult, payload)
    }

    /// One page of a rich query.
    pub fn get_query_result_with_pagination(
        &self,
        query: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page<Kv>, StubError> {
        let payload = GetQueryResult {
            query: query.to_owned(),
            collection: String::new(),
            metadata: query_metadata(page_size, bookmark)?,
        }
        .encode_to_vec();
        self.page(Type::GetQueryResult, payload)
    }

    /// Iterates over the committed history of a key.
    pub fn get_history_for_key(&self, key: &str) -> Result<HistoryIterator<'_>, StubError> {
        let payload = GetHistoryForKey {
            key: key.to_owned(),
        }
        .encode_to_vec();
        self.iterator(Type::GetHistoryForKey, payload)
    }

    /// Reads the key-level endorsement policy of a key (`None` when it has none).
    pub fn get_state_validation_parameter(&self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        self.get_validation_parameter(key, "")
    }

    /// Sets the key-level endorsement policy of a key.
    pub fn set_state_validation_parameter(
        &self,
        key: &str,
        policy: &[u8],
    ) -> Result<(), StubError> {
        self.set_validation_parameter(key, "", policy)
    }

    // ----- private data -----

    /// Reads a private data key.
    pub fn get_private_data(
        &self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        require_collection(collection)?;
        self.get(Type::GetState, key, collection)
    }

    /// Reads the hash of a private data value (works on peers outside the collection too).
    pub fn get_private_data_hash(
        &self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        require_collection(collection)?;
        self.get(Type::GetPrivateDataHash, key, collection)
    }

    /// Writes a private data key (an empty value deletes it).
    pub fn put_private_data(
        &self,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), StubError> {
        require_collection(collection)?;
        self.put(key, value, collection)
    }

    /// Deletes a private data key.
    pub fn del_private_data(&self, collection: &str, key: &str) -> Result<(), StubError> {
        require_collection(collection)?;
        self.del(key, collection, Type::DelState)
    }

    /// Purges a private data key and its history from the private store.
    pub fn purge_private_data(&self, collection: &str, key: &str) -> Result<(), StubError> {
        require_collection(collection)?;
        self.del(key, collection, Type::PurgePrivateData)
    }

    /// Iterates over private data keys in `[start, end)` (never paginated by the peer).
    pub fn get_private_data_by_range(
        &self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIterator<'_>, StubError> {
        require_collection(collection)?;
        let start = simple_range_start(start, end)?;
        let payload = range_request(&start, end, collection, Vec::new());
        self.iterator(Type::GetStateByRange, payload)
    }

    /// Iterates over private composite keys that start with `object_type` and `attrs`.
    pub fn get_private_data_by_partial_composite_key(
        &self,
        collection: &str,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<StateIterator<'_>, StubError> {
        require_collection(collection)?;
        let (start, end) = partial_composite_key_range(object_type, attrs)?;
        let payload = range_request(&start, &end, collection, Vec::new());
        self.iterator(Type::GetStateByRange, payload)
    }

    // ----- chaincode to chaincode -----

    /// Calls another chaincode in this transaction. `channel` empty means this channel.
    ///
    /// Mirrors the Go shim exactly: a callee COMPLETED gives its `Response` as is; a callee
    /// ERROR gives status 500 whose payload is the callee's marshalled `ChaincodeMessage`; a
    /// peer-side failure gives status 500 whose payload is the error text.
    pub fn invoke_chaincode(&self, name: &str, args: &[Vec<u8>], channel: &str) -> Response {
        let target = if channel.is_empty() {
            name.to_owned()
        } else {
            format!("{name}/{channel}")
        };
        let payload = ChaincodeSpec {
            chaincode_id: Some(ChaincodeId {
                name: target,
                ..Default::default()
            }),
            input: Some(ChaincodeInput {
                args: args.to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        let failed = |payload: Vec<u8>| Response {
            status: ERROR,
            message: String::new(),
            payload,
        };
        let outer = match self.call(Type::InvokeChaincode, payload) {
            Ok(bytes) => bytes,
            Err(e) => return failed(e.to_string().into_bytes()),
        };
        let inner = match ChaincodeMessage::decode(outer.as_slice()) {
            Ok(m) => m,
            Err(e) => {
                return failed(format!("undecodable chaincode reply: {e}").into_bytes());
            }
        };
        if inner.r#type == Type::Completed as i32 {
            match Response::decode(inner.payload.as_slice()) {
                Ok(r) => r,
                Err(e) => failed(format!("undecodable chaincode response: {e}").into_bytes()),
            }
        } else {
            failed(outer)
        }
    }

    // ----- shared request builders -----

    /// GET_STATE or GET_PRIVATE_DATA_HASH (same request message); an empty reply is absent.
    fn get(&self, ty: Type, key: &str, collection: &str) -> Result<Option<Vec<u8>>, StubError> {
        let payload = GetState {
            key: key.to_owned(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        let value = self.call(ty, payload)?;
        Ok((!value.is_empty()).then_some(value))
    }

    /// Holds the write `record` makes back when a write batch is open (`true`); otherwise
    /// `false` and the caller sends it now.
    fn batched(&self, record: impl FnOnce() -> WriteRecord) -> bool {
        let mut batch = self.batch();
        let Some(writes) = batch.as_mut() else {
            return false;
        };
        let record = record();
        let metadata = record.r#type == RecordType::PutStateMetadata as i32;
        writes.insert(
            (record.collection.clone(), record.key.clone(), metadata),
            record,
        );
        true
    }

    fn put(&self, key: &str, value: &[u8], collection: &str) -> Result<(), StubError> {
        if key.is_empty() {
            return Err(StubError::InvalidArgument(
                "key must not be an empty string".into(),
            ));
        }
        let record = || WriteRecord {
            key: key.to_owned(),
            value: value.to_vec(),
            collection: collection.to_owned(),
            metadata: None,
            r#type: RecordType::PutState as i32,
        };
        if self.batched(record) {
            return Ok(());
        }
        let payload = PutState {
            key: key.to_owned(),
            value: value.to_vec(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        self.call(Type::PutState, payload).map(drop)
    }

    fn del(&self, key: &str, collection: &str, ty: Type) -> Result<(), StubError> {
        let record_type = if ty == Type::PurgePrivateData {
            RecordType::PurgePrivateData
        } else {
            RecordType::DelState
        };
        let record = || WriteRecord {
            key: key.to_owned(),
            collection: collection.to_owned(),
            r#type: record_type as i32,
            ..Default::default()
        };
        if self.batched(record) {
            return Ok(());
        }
        let payload = DelState {
            key: key.to_owned(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        self.call(ty, payload).map(drop)
    }

    fn get_validation_parameter(
        &self,
        key: &str,
        collection: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        let payload = GetStateMetadata {
            key: key.to_owned(),
            collection: collection.to_owned(),
        }
        .encode_to_vec();
        let bytes = self.call(Type::GetStateMetadata, payload)?;
        let result = StateMetadataResult::decode(bytes.as_slice())
            .map_err(|e| StubError::BadReply(format!("undecodable StateMetadataResult: {e}")))?;
        Ok(result
            .entries
            .into_iter()
            .find(|e| e.metakey == VALIDATION_PARAMETER)
            .map(|e| e.value))
    }

    fn set_validation_parameter(
        &self,
        key: &str,
        collection: &str,
        policy: &[u8],
    ) -> Result<(), StubError> {
        let metadata = || StateMetadata {
            metakey: VALIDATION_PARAMETER.to_owned(),
            value: policy.to_vec(),
        };
        let record = || WriteRecord {
            key: key.to_owned(),
            collection: collection.to_owned(),
            metadata: Some(metadata()),
            r#type: RecordType::PutStateMetadata as i32,
            ..Default::default()
        };
        if self.batched(record) {
            return Ok(());
        }
        let payload = PutStateMetadata {
            key: key.to_owned(),
            collection: collection.to_owned(),
            metadata: Some(metadata()),
        }
        .encode_to_vec();
        self.call(Type::PutStateMetadata, payload).map(drop)
    }
}

fn require_collection(collection: &str) -> Result<(), StubError> {
    if collection.is_empty() {
        return Err(StubError::InvalidArgument(
            "collection must not be an empty string".into(),
        ));
    }
    Ok(())
}

fn simple_range_start(start: &str, end: &str) -> Result<String, StubError> {
    let start = if start.is_empty() {
        EMPTY_KEY_SUBSTITUTE
    } else {
        start
    };
    validate_simple_keys(&[start, end]).map_err(StubError::InvalidArgument)?;
    Ok(start.to_owned())
}

fn query_metadata(page_size: i32, bookmark: &str) -> Result<Vec<u8>, StubError> {
    if page_size < 0 {
        return Err(StubError::InvalidArgument(
            "page size must not be negative".into(),
        ));
    }
    Ok(QueryMetadata {
        page_size,
        bookmark: bookmark.to_owned(),
    }
    .encode_to_vec())
}

fn range_request(start: &str, end: &str, collection: &str, metadata: Vec<u8>) -> Vec<u8> {
    GetStateByRange {
        start_key: start.to_owned(),
        end_key: end.to_owned(),
        collection: collection.to_owned(),
        metadata,
    }
    .encode_to_vec()
}

fn decode_record<T: Message + Default>(r: &QueryResultBytes) -> Result<T, StubError> {
    T::decode(r.result_bytes.as_slice())
        .map_err(|e| StubError::BadReply(format!("undecodable query result: {e}")))
}

/// Results of a range, partial-key or rich query.
pub type StateIterator<'a> = QueryIterator<'a, Kv>;
/// Results of a history query.
pub type HistoryIterator<'a> = QueryIterator<'a, KeyModification>;

/// A peer-side query iterator. Fetches further batches with QUERY_STATE_NEXT only when the
/// buffered ones are used up, and frees the peer's iterator with QUERY_STATE_CLOSE when dropped
/// early (an exhausted iterator is already gone on the peer, so no CLOSE is sent for it).
pub struct QueryIterator<'a, T> {
    stub: &'a ChaincodeStub<'a>,
    id: String,
    buffer: std::vec::IntoIter<QueryResultBytes>,
    has_more: bool,
    _item: PhantomData<fn() -> T>,
}

impl<'a, T: Message + Default> QueryIterator<'a, T> {
    fn new(stub: &'a ChaincodeStub<'a>, response: QueryResponse) -> Self {
        QueryIterator {
            stub,
            id: response.id,
            buffer: response.results.into_iter(),
            has_more: response.has_more,
            _item: PhantomData,
        }
    }

    /// Closes the peer-side iterator now and reports whether the peer accepted.
    pub fn close(mut self) -> Result<(), StubError> {
        self.send_close()
    }

    fn fetch_next(&mut self) -> Result<(), StubError> {
        let payload = QueryStateNext {
            id: self.id.clone(),
        }
        .encode_to_vec();
        let response = match self.stub.query(Type::QueryStateNext, payload) {
            Ok(r) => r,
            Err(e) => {
                // The peer may still hold the iterator; do not keep asking.
                self.has_more = false;
                return Err(e);
            }
        };
        self.buffer = response.results.into_iter();
        self.has_more = response.has_more;
        Ok(())
    }
}

impl<T: Message + Default> Iterator for QueryIterator<'_, T> {
    type Item = Result<T, StubError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.buffer.next() {
                return Some(decode_record(&r));
            }
            if !self.has_more {
                return None;
            }
            if let Err(e) = self.fetch_next() {
                return Some(Err(e));
            }
        }
    }
}

impl<T> QueryIterator<'_, T> {
    /// Sends QUERY_STATE_CLOSE once, and only while the peer still holds the iterator.
    fn send_close(&mut self) -> Result<(), StubError> {
        if !self.has_more {
            return Ok(());
        }
        self.has_more = false;
        let payload = QueryStateClose {
            id: self.id.clone(),
        }
        .encode_to_vec();
        self.stub.call(Type::QueryStateClose, payload).map(drop)
    }
}

impl<T> Drop for QueryIterator<'_, T> {
    fn drop(&mut self) {
        if let Err(e) = self.send_close() {
            tracing::warn!(txid = %self.stub.key.txid, "closing query iterator failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ChaincodeMessage {
        let channel_header = ChannelHeader {
            r#type: HeaderType::EndorserTransaction as i32,
            channel_id: "ch".into(),
            tx_id: "tx".into(),
            epoch: 3,
            timestamp: Some(prost_types::Timestamp {
                seconds: 5,
                nanos: 6,
            }),
            ..Default::default()
        };
        let header = Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: SerializedIdentity {
                    mspid: "M".into(),
                    id_bytes: b"c".to_vec(),
                }
                .encode_to_vec(),
                nonce: b"n".to_vec(),
            }
            .encode_to_vec(),
        };
        let payload = ChaincodeProposalPayload {
            input: vec![],
            transient_map: [("k".to_string(), b"v".to_vec())].into_iter().collect(),
        };
        ChaincodeMessage {
            r#type: Type::Transaction as i32,
            payload: ChaincodeInput {
                args: vec![b"f".to_vec(), b"a".to_vec()],
                ..Default::default()
            }
            .encode_to_vec(),
            txid: "tx".into(),
            channel_id: "ch".into(),
            proposal: Some(SignedProposal {
                proposal_bytes: Proposal {
                    header: header.encode_to_vec(),
                    payload: payload.encode_to_vec(),
                    extension: vec![],
                }
                .encode_to_vec(),
                signature: vec![],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn derives_what_the_go_shim_derives() {
        let d = TxData::from_message(valid()).unwrap();
        assert_eq!(d.args, vec![b"f".to_vec(), b"a".to_vec()]);
        assert_eq!(
            d.timestamp,
            Some(prost_types::Timestamp {
                seconds: 5,
                nanos: 6
            })
        );
        assert_eq!(d.creator.as_ref().unwrap().mspid, "M");
        assert_eq!(d.transient.get("k").unwrap(), b"v");
        let mut h = Sha256::new();
        h.update(b"n");
        h.update(&d.creator_bytes);
        h.update(3u64.to_le_bytes());
        assert_eq!(d.binding().unwrap(), h.finalize().as_slice());
        let mut no_proposal = valid();
        no_proposal.proposal = None;
        assert_eq!(TxData::from_message(no_proposal).unwrap().binding(), None);
    }

    /// Every truncation and every single-byte corruption of the input and the proposal is
    /// either accepted or rejected with a message; none panics.
    #[test]
    fn mutated_inputs_never_panic() {
        let base = valid();
        let proposal_bytes = base.proposal.clone().unwrap().proposal_bytes;
        let mut rejected = 0;
        for i in 0..proposal_bytes.len() {
            for variant in 0..3 {
                let mut bytes = proposal_bytes.clone();
                match variant {
                    0 => bytes.truncate(i),
                    1 => bytes[i] ^= 0xff,
                    _ => bytes[i] = 0x80,
                }
                let mut m = base.clone();
                m.proposal = Some(SignedProposal {
                    proposal_bytes: bytes,
                    signature: vec![],
                });
                if TxData::from_message(m).is_err() {
                    rejected += 1;
                }
            }
        }
        assert!(rejected > 0);
        let mut rejected = 0;
        for i in 0..base.payload.len() {
            let mut m = base.clone();
            m.payload[i] ^= 0xff;
            rejected += usize::from(TxData::from_message(m).is_err());
            let mut m = base.clone();
            m.payload.truncate(i);
            rejected += usize::from(TxData::from_message(m).is_err());
        }
        assert!(
            rejected > 0,
            "no corrupted ChaincodeInput payload was rejected"
        );
    }
}
