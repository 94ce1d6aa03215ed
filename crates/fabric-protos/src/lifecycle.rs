//! `_lifecycle` messages (Fabric `peer/lifecycle/lifecycle.proto`, package
//! `lifecycle`) for `QueryChaincodeDefinition`, the one lifecycle call the
//! registry makes and the dev peer answers.

/// Namespace of the lifecycle system chaincode.
pub const LIFECYCLE_NAMESPACE: &str = "_lifecycle";
/// Function name of the chaincode-definition query.
pub const QUERY_CHAINCODE_DEFINITION: &str = "QueryChaincodeDefinition";

/// `lifecycle.QueryChaincodeDefinitionArgs`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct QueryChaincodeDefinitionArgs {
    /// The chaincode (namespace) whose definition is asked for.
    #[prost(string, tag = "1")]
    pub name: ::prost::alloc::string::String,
}

/// `lifecycle.QueryChaincodeDefinitionResult`.
///
/// `collections` is a `protos.CollectionConfigPackage` on the wire. Nothing in
/// ercc-rs reads collection configs, so it is kept as its raw encoded bytes:
/// a length-delimited message field decodes losslessly as `bytes`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct QueryChaincodeDefinitionResult {
    /// The definition's sequence number (bumped by every approved change).
    #[prost(int64, tag = "1")]
    pub sequence: i64,
    /// The definition's version string (for FPC chaincodes: the MRENCLAVE, in hex).
    #[prost(string, tag = "2")]
    pub version: ::prost::alloc::string::String,
    /// The endorsement plugin (`escc` by default).
    #[prost(string, tag = "3")]
    pub endorsement_plugin: ::prost::alloc::string::String,
    /// The validation plugin (`vscc` by default).
    #[prost(string, tag = "4")]
    pub validation_plugin: ::prost::alloc::string::String,
    /// The encoded endorsement policy.
    #[prost(bytes = "vec", tag = "5")]
    pub validation_parameter: ::prost::alloc::vec::Vec<u8>,
    /// The encoded `CollectionConfigPackage`, kept raw (see above).
    #[prost(bytes = "vec", tag = "6")]
    pub collections: ::prost::alloc::vec::Vec<u8>,
    /// Whether `Init` must be invoked before other transactions.
    #[prost(bool, tag = "7")]
    pub init_required: bool,
    /// Organisation MSP id to approved. A BTreeMap so that encoding is
    /// deterministic (endorsing peers must produce identical bytes).
    #[prost(btree_map = "string, bool", tag = "8")]
    pub approvals: ::prost::alloc::collections::BTreeMap<::prost::alloc::string::String, bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn definition_result_round_trips_with_collections_kept_raw() {
        let mut approvals = std::collections::BTreeMap::new();
        approvals.insert("Org1MSP".to_string(), true);
        let result = QueryChaincodeDefinitionResult {
            sequence: 3,
            version: "ab".repeat(32),
            collections: vec![0x0a, 0x00],
            approvals,
            ..Default::default()
        };
        let bytes = result.encode_to_vec();
        let back = QueryChaincodeDefinitionResult::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(back, result);
        assert!(QueryChaincodeDefinitionResult::decode(&[0x0a, 0x05][..]).is_err());
    }
}
