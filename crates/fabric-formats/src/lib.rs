//! The small text formats that Fabric's configuration, environment and tools write and that
//! several crates of this workspace read, each implemented once:
//!
//! * [`duration`]: Go's `time.ParseDuration` grammar (`connection.json`'s `dial_timeout`,
//!   `--dial-timeout`), with a timeout variant that refuses negative values;
//! * [`boolean`]: Go's `strconv.ParseBool` (`CORE_PEER_TLS_ENABLED` and friends);
//! * [`label`]: chaincode package labels and package ids (`label:hex(sha256(package))`);
//! * [`pem`]: PEM blocks, and the fix for the `EC PRIVATE KEY` label Fabric puts on PKCS#8 keys;
//! * [`file`]: bounded reads of files named in configuration, so a wrong path (`/dev/zero`,
//!   a disk image) fails fast instead of filling memory.
//!
//! No I/O happens outside [`file`]; nothing here logs or reads the environment itself.

#![deny(missing_docs)]
#![deny(clippy::expect_used)]
#![deny(clippy::indexing_slicing)]

pub mod boolean;
pub mod duration;
pub mod file;
pub mod label;
pub mod pem;
