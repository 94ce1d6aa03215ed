//! Fuzzes the chaincode runtime's handling of the peer's messages in both run modes: frames of
//! `ChaincodeMessage` bytes driven through the protocol handler and the stub without a network.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fabric_chaincode::fuzzing::peer_messages(data);
});
