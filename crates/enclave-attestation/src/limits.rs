//! Size limits, checked before anything is parsed or decoded, so hostile input cannot make the
//! verifier allocate or work in proportion to its size.

/// Largest evidence envelope (`Credentials.evidence`). An IAS evidence is about 5.5 KiB; a DCAP
/// evidence with its full collateral (PCK chain, two CRLs, TCB info, QE identity) stays under
/// 40 KiB, so 128 KiB leaves room without letting a transaction carry megabytes.
pub const MAX_EVIDENCE_LEN: usize = 128 * 1024;

/// Largest IAS report body. Intel's reports are 0.7 to 1.3 KiB (the quote body is 576 base64
/// characters, the platform info blob about 210 hex characters, the advisory list small).
pub const MAX_IAS_REPORT_LEN: usize = 16 * 1024;

/// Largest URL-encoded `iasCertificates` value: IAS sent two certificates, about 3.7 KiB.
pub const MAX_IAS_CERTIFICATES_LEN: usize = 32 * 1024;

/// Most certificates accepted in `iasCertificates` (IAS sends the signing certificate and the root).
pub const MAX_IAS_CERTIFICATES: usize = 4;

/// Largest `iasSignature` base64 text: an RSA-8192 signature is 1366 characters.
pub const MAX_IAS_SIGNATURE_LEN: usize = 2048;

/// Most advisory ids read from a report (IAS lists a handful).
pub const MAX_ADVISORIES: usize = 256;

/// Largest simulated evidence string (FPC's is `MA==`).
pub const MAX_SIMULATED_LEN: usize = 4096;

/// Largest policy file.
pub const MAX_POLICY_FILE_LEN: usize = 64 * 1024;

/// Largest trust-anchor PEM file.
pub const MAX_ANCHOR_FILE_LEN: usize = 64 * 1024;
