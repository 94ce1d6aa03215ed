//! The EPID quote body IAS echoes in `isvEnclaveQuoteBody`: the 432-byte `sgx_quote_t` without
//! `signature_len` and `signature` (the header, then the enclave's `sgx_report_body_t`).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use crate::claims::EnclaveReport;
use crate::error::MalformedEvidence;

/// Length of the quote body.
pub const QUOTE_BODY_LEN: usize = 432;

/// Offset of `sgx_report_body_t` inside the quote (after the 48-byte quote header).
const REPORT_BODY: usize = 48;

/// `attributes.flags` bit 1: the enclave was launched in debug mode.
const SGX_FLAGS_DEBUG: u64 = 0x02;

/// A parsed EPID quote body. Field names follow the SGX SDK's `sgx_quote_t` / `sgx_report_body_t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteBody {
    /// `version`.
    pub version: u16,
    /// `sign_type`: 0 = unlinkable, 1 = linkable EPID signature.
    pub sign_type: u16,
    /// `epid_group_id`.
    pub epid_group_id: [u8; 4],
    /// `qe_svn`.
    pub qe_svn: u16,
    /// `pce_svn`.
    pub pce_svn: u16,
    /// `xeid`.
    pub xeid: u32,
    /// `basename`.
    pub basename: [u8; 32],
    /// `report_body.cpu_svn`.
    pub cpu_svn: [u8; 16],
    /// `report_body.misc_select`.
    pub misc_select: u32,
    /// `report_body.attributes.flags`.
    pub attributes_flags: u64,
    /// `report_body.attributes.xfrm`.
    pub attributes_xfrm: u64,
    /// `report_body.mr_enclave`.
    pub mrenclave: [u8; 32],
    /// `report_body.mr_signer`.
    pub mrsigner: [u8; 32],
    /// `report_body.isv_prod_id`.
    pub isv_prod_id: u16,
    /// `report_body.isv_svn`.
    pub isv_svn: u16,
    /// `report_body.report_data`.
    pub report_data: [u8; 64],
}

impl QuoteBody {
    /// Parses exactly [`QUOTE_BODY_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<QuoteBody, MalformedEvidence> {
        let body: &[u8; QUOTE_BODY_LEN] = bytes
            .try_into()
            .map_err(|_| MalformedEvidence::QuoteBodyLength { len: bytes.len() })?;
        let r = Reader(body);
        Ok(QuoteBody {
            version: r.u16(0),
            sign_type: r.u16(2),
            epid_group_id: r.array(4),
            qe_svn: r.u16(8),
            pce_svn: r.u16(10),
            xeid: r.u32(12),
            basename: r.array(16),
            cpu_svn: r.array(REPORT_BODY),
            misc_select: r.u32(REPORT_BODY + 16),
            attributes_flags: r.u64(REPORT_BODY + 48),
            attributes_xfrm: r.u64(REPORT_BODY + 56),
            mrenclave: r.array(REPORT_BODY + 64),
            mrsigner: r.array(REPORT_BODY + 128),
            isv_prod_id: r.u16(REPORT_BODY + 256),
            isv_svn: r.u16(REPORT_BODY + 258),
            report_data: r.array(REPORT_BODY + 320),
        })
    }

    /// Whether the DEBUG attribute is set.
    pub fn debug(&self) -> bool {
        self.attributes_flags & SGX_FLAGS_DEBUG != 0
    }

    /// The normalised enclave identity.
    pub fn enclave_report(&self) -> EnclaveReport {
        EnclaveReport {
            mrenclave: self.mrenclave,
            mrsigner: self.mrsigner,
            isv_prod_id: self.isv_prod_id,
            isv_svn: self.isv_svn,
            report_data: self.report_data,
            debug: self.debug(),
        }
    }

    /// Readable form for `ercc inspect`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "version": self.version,
            "sign_type": self.sign_type,
            "epid_group_id": hex::encode(self.epid_group_id),
            "qe_svn": self.qe_svn,
            "pce_svn": self.pce_svn,
            "xeid": self.xeid,
            "basename": hex::encode(self.basename),
            "cpu_svn": hex::encode(self.cpu_svn),
            "misc_select": format!("{:08x}", self.misc_select),
            "attributes_flags": format!("{:016x}", self.attributes_flags),
            "attributes_xfrm": format!("{:016x}", self.attributes_xfrm),
            "debug": self.debug(),
            "mrenclave": hex::encode(self.mrenclave),
            "mrsigner": hex::encode(self.mrsigner),
            "isv_prod_id": self.isv_prod_id,
            "isv_svn": self.isv_svn,
            "report_data": hex::encode(self.report_data),
        })
    }
}

/// Little-endian fixed-offset reads from the fixed-size body; the offsets are constants inside
/// [`QUOTE_BODY_LEN`], so every read is in bounds.
struct Reader<'a>(&'a [u8; QUOTE_BODY_LEN]);

impl Reader<'_> {
    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        crate::bytes::array_at(self.0, at)
    }

    fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes(self.array(at))
    }

    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.array(at))
    }

    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.array(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_at_their_offsets() {
        let mut body = [0u8; QUOTE_BODY_LEN];
        body[0] = 2;
        body[2] = 1;
        body[96] = 0x07;
        body[112..144].fill(0xaa);
        body[176..208].fill(0xbb);
        body[304..306].copy_from_slice(&37095u16.to_le_bytes());
        body[306..308].copy_from_slice(&1u16.to_le_bytes());
        body[368..432].fill(0xcc);
        let q = QuoteBody::parse(&body).expect("432 bytes");
        assert_eq!((q.version, q.sign_type), (2, 1));
        assert!(q.debug());
        assert_eq!(q.mrenclave, [0xaa; 32]);
        assert_eq!(q.mrsigner, [0xbb; 32]);
        assert_eq!((q.isv_prod_id, q.isv_svn), (37095, 1));
        assert_eq!(q.report_data, [0xcc; 64]);
        body[96] = 0x05;
        assert!(!QuoteBody::parse(&body).expect("432 bytes").debug());
    }

    #[test]
    fn rejects_wrong_sizes() {
        for len in [0, 431, 433, 1116] {
            assert_eq!(
                QuoteBody::parse(&vec![0; len]),
                Err(MalformedEvidence::QuoteBodyLength { len })
            );
        }
    }
}
