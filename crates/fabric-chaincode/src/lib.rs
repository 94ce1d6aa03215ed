//! Hyperledger Fabric chaincode runtime (the peer protocol, the stub, contract dispatch).
