//! SGX ECDSA quote layout (versions 3 and 4): header, ISV enclave report, and the signature data
//! with the QE report and the PCK certificate chain. Parsing is bounds-checked and exact: every byte
//! of the quote belongs to a field and trailing bytes are refused.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::DcapError;

pub(crate) const HEADER_LEN: usize = 48;
pub(crate) const REPORT_LEN: usize = 384;
/// Header plus ISV report: the bytes the attestation key signs.
pub(crate) const SIGNED_LEN: usize = HEADER_LEN + REPORT_LEN;
pub(crate) const ATT_KEY_TYPE_ECDSA_P256: u16 = 2;
pub(crate) const TEE_TYPE_SGX: u32 = 0;
/// Certification data: the PCK leaf certificate, its issuer and the root, as PEM.
pub(crate) const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data (v4): the QE report, its signature, auth data and a nested certification data.
pub(crate) const CERT_TYPE_QE_REPORT: u16 = 6;
/// Intel's quoting enclave vendor id `939A7233-F79C-4CA9-940A-0DB3957F0607`.
pub(crate) const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];

/// An SGX enclave report (the 384-byte `sgx_report_body_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnclaveReport {
    pub raw: [u8; REPORT_LEN],
    pub cpu_svn: [u8; 16],
    pub misc_select: u32,
    pub attributes: [u8; 16],
    pub mr_enclave: [u8; 32],
    pub mr_signer: [u8; 32],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    pub report_data: [u8; 64],
}

/// A parsed quote. Borrowed from the raw bytes.
#[derive(Debug, Clone)]
pub(crate) struct Quote<'a> {
    pub version: u16,
    pub signed: &'a [u8],
    pub report: EnclaveReport,
    /// Raw `r || s` signature of `signed` by the attestation key.
    pub signature: [u8; 64],
    /// Raw `x || y` attestation public key.
    pub attestation_key: [u8; 64],
    pub qe_report: EnclaveReport,
    /// Raw `r || s` signature of the QE report by the PCK key.
    pub qe_report_signature: [u8; 64],
    pub qe_auth_data: &'a [u8],
    /// The PCK certificate chain, PEM.
    pub pck_chain_pem: &'a [u8],
}

/// A forward-only reader over untrusted bytes.
struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DcapError> {
        if self.buf.len() < n {
            return Err(DcapError::MalformedQuote(format!(
                "truncated {}: {} bytes left, {} needed",
                self.what,
                self.buf.len(),
                n
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DcapError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16, DcapError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DcapError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn finish(&self) -> Result<(), DcapError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DcapError::MalformedQuote(format!(
                "{} trailing bytes after the {}",
                self.buf.len(),
                self.what
            )))
        }
    }
}

/// `N` bytes at the offset `at` of the report layout.
fn field<const N: usize>(raw: &[u8; REPORT_LEN], at: usize) -> [u8; N] {
    crate::bytes::array_at(raw, at)
}

impl EnclaveReport {
    pub(crate) fn parse(raw: [u8; REPORT_LEN]) -> Self {
        EnclaveReport {
            cpu_svn: field(&raw, 0),
            misc_select: u32::from_le_bytes(field(&raw, 16)),
            attributes: field(&raw, 48),
            mr_enclave: field(&raw, 64),
            mr_signer: field(&raw, 128),
            isv_prod_id: u16::from_le_bytes(field(&raw, 256)),
            isv_svn: u16::from_le_bytes(field(&raw, 258)),
            report_data: field(&raw, 320),
            raw,
        }
    }

    /// `ATTRIBUTES.DEBUG` (flags bit 1).
    pub(crate) fn debug(&self) -> bool {
        self.attributes[0] & 0x02 != 0
    }
}

/// The header fields that decide whether the rest can be read at all.
pub(crate) struct Header {
    pub version: u16,
    pub att_key_type: u16,
    pub tee_type: u32,
    pub qe_vendor_id: [u8; 16],
}

pub(crate) fn parse_header(raw: &[u8]) -> Result<Header, DcapError> {
    let mut r = Reader {
        buf: raw,
        what: "quote header",
    };
    let version = r.u16()?;
    let att_key_type = r.u16()?;
    let tee_type = r.u32()?;
    let _reserved_or_svns = r.u32()?;
    let qe_vendor_id = r.array::<16>()?;
    Ok(Header {
        version,
        att_key_type,
        tee_type,
        qe_vendor_id,
    })
}

impl<'a> Quote<'a> {
    pub(crate) fn parse(raw: &'a [u8]) -> Result<Self, DcapError> {
        let h = parse_header(raw)?;
        if h.version != 3 && h.version != 4 {
            return Err(DcapError::UnsupportedQuoteVersion(h.version));
        }
        // In v3 these four bytes are reserved and zero; in v4 they are the TEE type.
        if h.tee_type != TEE_TYPE_SGX {
            return Err(DcapError::UnsupportedTeeType(h.tee_type));
        }
        if h.att_key_type != ATT_KEY_TYPE_ECDSA_P256 {
            return Err(DcapError::UnsupportedAttestationKeyType(h.att_key_type));
        }
        if h.qe_vendor_id != INTEL_QE_VENDOR_ID {
            return Err(DcapError::UnknownQeVendor(hex::encode(h.qe_vendor_id)));
        }
        let mut r = Reader {
            buf: raw,
            what: "quote",
        };
        let signed = r.take(SIGNED_LEN)?;
        let report = EnclaveReport::parse(
            signed
                .get(HEADER_LEN..)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| DcapError::MalformedQuote("report body".into()))?,
        );
        let sig_len = r.u32()? as usize;
        let sig_data = r.take(sig_len)?;
        r.finish()?;

        let mut s = Reader {
            buf: sig_data,
            what: "quote signature data",
        };
        let signature = s.array::<64>()?;
        let attestation_key = s.array::<64>()?;
        let qe = if h.version == 3 {
            let qe = parse_qe_section(&mut s)?;
            s.finish()?;
            qe
        } else {
            let cert_type = s.u16()?;
            if cert_type != CERT_TYPE_QE_REPORT {
                return Err(DcapError::UnsupportedCertificationDataType(
                    cert_type,
                    CERT_TYPE_QE_REPORT,
                ));
            }
            let len = s.u32()? as usize;
            let body = s.take(len)?;
            s.finish()?;
            let mut q = Reader {
                buf: body,
                what: "QE report certification data",
            };
            let qe = parse_qe_section(&mut q)?;
            q.finish()?;
            qe
        };
        Ok(Quote {
            version: h.version,
            signed,
            report,
            signature,
            attestation_key,
            qe_report: qe.0,
            qe_report_signature: qe.1,
            qe_auth_data: qe.2,
            pck_chain_pem: qe.3,
        })
    }
}

type QeSection<'a> = (EnclaveReport, [u8; 64], &'a [u8], &'a [u8]);

/// QE report, its signature, the QE authentication data and the PCK chain certification data:
/// the tail of v3 signature data and the body of v4 certification data type 6.
fn parse_qe_section<'a>(r: &mut Reader<'a>) -> Result<QeSection<'a>, DcapError> {
    let qe_report = EnclaveReport::parse(r.array::<REPORT_LEN>()?);
    let qe_report_signature = r.array::<64>()?;
    let auth_len = r.u16()? as usize;
    let qe_auth_data = r.take(auth_len)?;
    let cert_type = r.u16()?;
    if cert_type != CERT_TYPE_PCK_CHAIN {
        return Err(DcapError::UnsupportedCertificationDataType(
            cert_type,
            CERT_TYPE_PCK_CHAIN,
        ));
    }
    let cert_len = r.u32()? as usize;
    let pck_chain_pem = r.take(cert_len)?;
    Ok((qe_report, qe_report_signature, qe_auth_data, pck_chain_pem))
}
