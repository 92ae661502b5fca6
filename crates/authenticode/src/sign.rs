//! Signing a UEFI PE image with Authenticode (what `sbsign` does) and checking who signed
//! one, with the RustCrypto crates (`rsa`, `sha2`, `cms`, `x509-cert`, `der`); and making
//! the self-signed signing key a user enrolls once per machine ([`new_signing_key`]).
//!
//! The signature is a PKCS#7 SignedData (version 1) whose content is an
//! `SpcIndirectDataContent` holding the image's SHA-256 Authenticode digest; the signed
//! attributes are content type and message digest (of the content's value, as Authenticode
//! specifies); RSA PKCS#1 v1.5 with SHA-256; the signer's certificate is included. It is
//! appended to the image as one WIN_CERTIFICATE (revision 2, type PKCS_SIGNED_DATA) and the
//! certificate table directory points at it. Any earlier signature is dropped first.

use crate::pe::{PeError, PeImage, CERT_REVISION_2, CERT_TYPE_PKCS_SIGNED_DATA};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier};
use std::fmt;
use std::string::{String, ToString};
use std::vec::Vec;
use x509_cert::attr::Attribute;
use x509_cert::Certificate as X509Certificate;

/// id-signedData.
const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// SPC_INDIRECT_DATA_OBJID.
const OID_SPC_INDIRECT_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.4");
/// SPC_PE_IMAGE_DATAOBJ.
const OID_SPC_PE_IMAGE_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.15");
/// id-contentType.
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest.
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-sha256.
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// rsaEncryption (the signature algorithm Authenticode signers name).
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// `SpcPeImageData` as every signer writes it: no flags, and the obsolete file link
/// `[0] { [2] { [0] IMPLICIT BMPString "<<<Obsolete>>>" } }`.
const SPC_PE_IMAGE_DATA: &[u8] = &[
    0x30, 0x25, 0x03, 0x01, 0x00, 0xA0, 0x20, 0xA2, 0x1E, 0x80, 0x1C, 0, b'<', 0, b'<', 0, b'<', 0,
    b'O', 0, b'b', 0, b's', 0, b'o', 0, b'l', 0, b'e', 0, b't', 0, b'e', 0, b'>', 0, b'>', 0, b'>',
];

/// Why an image could not be signed or its signature not be checked.
#[derive(Debug)]
pub enum SignError {
    /// The bytes are not a PE image.
    Pe(PeError),
    /// Encoding or decoding ASN.1 failed.
    Der(der::Error),
    /// The RSA operation failed.
    Rsa(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Pe(e) => write!(f, "{e}"),
            SignError::Der(e) => write!(f, "ASN.1: {e}"),
            SignError::Rsa(e) => write!(f, "RSA: {e}"),
        }
    }
}

impl std::error::Error for SignError {}

impl From<PeError> for SignError {
    fn from(e: PeError) -> Self {
        SignError::Pe(e)
    }
}
impl From<der::Error> for SignError {
    fn from(e: der::Error) -> Self {
        SignError::Der(e)
    }
}

/// The SHA-256 Authenticode digest of an image.
pub fn digest(image: &PeImage<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    image.digest_ranges(|b| h.update(b));
    h.finalize().into()
}

/// `DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }`.
#[derive(Clone, Debug, Sequence)]
struct DigestInfo {
    algorithm: AlgorithmIdentifierOwned,
    digest: OctetString,
}

/// `SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
/// messageDigest DigestInfo }`.
#[derive(Clone, Debug, Sequence)]
struct SpcIndirectDataContent {
    data: Any,
    message_digest: DigestInfo,
}

fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: OID_SHA256,
        parameters: Some(Any::null()),
    }
}

/// The image without its certificate table (and without the directory entry pointing at
/// it), padded to 8 bytes as the table's start must be.
fn unsigned_copy(image: &[u8]) -> Result<Vec<u8>, SignError> {
    let pe = PeImage::parse(image)?;
    let mut out = image[..pe.data_end()].to_vec();
    let dir = pe.security_directory_offset();
    out[dir..dir + 8].fill(0);
    out.resize(out.len().next_multiple_of(8), 0);
    Ok(out)
}

/// Whether `signed` is `unsigned` with a signature added (by [`sign`] or `sbsign`): the
/// same Authenticode digest once `unsigned` is padded as signing pads it. `false` when
/// either is no PE image.
pub fn same_code(signed: &[u8], unsigned: &[u8]) -> bool {
    let Ok(copy) = unsigned_copy(unsigned) else {
        return false;
    };
    match (PeImage::parse(signed), PeImage::parse(&copy)) {
        (Ok(a), Ok(b)) => digest(&a) == digest(&b),
        _ => false,
    }
}

/// Signs `image` with `key`, naming `cert` (whose public key must be `key`'s) as signer.
/// Returns the signed image; an existing signature is replaced.
pub fn sign(
    image: &[u8],
    key: &RsaPrivateKey,
    cert: &X509Certificate,
) -> Result<Vec<u8>, SignError> {
    let mut out = unsigned_copy(image)?;
    let pe = PeImage::parse(&out)?;
    let image_digest = digest(&pe);
    let (checksum_at, dir_at) = (pe.checksum_offset(), pe.security_directory_offset());

    let mut data = Vec::with_capacity(SPC_PE_IMAGE_DATA.len() + 16);
    // SpcAttributeTypeAndOptionalValue { type SPC_PE_IMAGE_DATAOBJ, value SpcPeImageData }
    let oid = OID_SPC_PE_IMAGE_DATA.to_der()?;
    let inner_len = oid.len() + SPC_PE_IMAGE_DATA.len();
    data.push(0x30);
    der::Length::try_from(inner_len)?.encode_to_vec(&mut data)?;
    data.extend_from_slice(&oid);
    data.extend_from_slice(SPC_PE_IMAGE_DATA);
    let content = SpcIndirectDataContent {
        data: Any::from_der(&data)?,
        message_digest: DigestInfo {
            algorithm: sha256_algorithm(),
            digest: OctetString::new(image_digest.to_vec())?,
        },
    };
    let content_der = content.to_der()?;
    // The message digest attribute covers the content's value, without its tag and length.
    let content_any = Any::from_der(&content_der)?;
    let content_digest: [u8; 32] = Sha256::digest(content_any.value()).into();

    let mut attrs = SetOfVec::new();
    attrs.insert(Attribute {
        oid: OID_CONTENT_TYPE,
        values: SetOfVec::try_from(vec![Any::encode_from(&OID_SPC_INDIRECT_DATA)?])?,
    })?;
    attrs.insert(Attribute {
        oid: OID_MESSAGE_DIGEST,
        values: SetOfVec::try_from(vec![Any::new(
            der::Tag::OctetString,
            content_digest.to_vec(),
        )?])?,
    })?;
    let signed_attrs: SignedAttributes = attrs;
    let signing_key = SigningKey::<Sha256>::new(key.clone());
    let signature: Signature = signing_key
        .try_sign(&signed_attrs.to_der()?)
        .map_err(|e| SignError::Rsa(e.to_string()))?;

    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: OID_RSA,
            parameters: Some(Any::null()),
        },
        signature: OctetString::new(signature.to_vec())?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: OID_SPC_INDIRECT_DATA,
            econtent: Some(content_any),
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(vec![
            CertificateChoices::Certificate(cert.clone()),
        ])?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
    };
    let pkcs7 = ContentInfo {
        content_type: OID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    }
    .to_der()?;

    let entry_len = 8 + pkcs7.len();
    let padded = entry_len.next_multiple_of(8);
    let table_at = out.len();
    let too_big = || SignError::Rsa("the signed image would exceed 4 GiB".into());
    let entry_len32 = u32::try_from(entry_len).map_err(|_| too_big())?;
    out.extend_from_slice(&entry_len32.to_le_bytes());
    out.extend_from_slice(&CERT_REVISION_2.to_le_bytes());
    out.extend_from_slice(&CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
    out.extend_from_slice(&pkcs7);
    out.resize(table_at + padded, 0);
    let table_at32 = u32::try_from(table_at).map_err(|_| too_big())?;
    let padded32 = u32::try_from(padded).map_err(|_| too_big())?;
    out[dir_at..dir_at + 4].copy_from_slice(&table_at32.to_le_bytes());
    out[dir_at + 4..dir_at + 8].copy_from_slice(&padded32.to_le_bytes());
    let sum = pe_checksum(&out, checksum_at);
    out[checksum_at..checksum_at + 4].copy_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// The PE CheckSum (16-bit one's-complement sum of the file, CheckSum field as zero, plus
/// the file's length). Firmware does not check it; signers set it, so do we.
fn pe_checksum(image: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, pair) in image.chunks(2).enumerate() {
        let at = i * 2;
        if at == checksum_at || at == checksum_at + 2 {
            continue;
        }
        let word = u64::from(pair[0]) | pair.get(1).map_or(0, |&b| u64::from(b) << 8);
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32).wrapping_add(image.len() as u32)
}

/// Who signed an image, as far as [`verify`] could tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signed {
    /// No Authenticode signature.
    Unsigned,
    /// Signed, its digest matches the image, and the signature verifies with the given
    /// certificate's key.
    ByCertificate,
    /// Signed, but by someone else (or the signature does not match the image): the
    /// signer's issuer names as the signature states them, and why it is not a match.
    Otherwise {
        signers: Vec<String>,
        reason: String,
    },
}

/// Checks whether `image` carries a valid Authenticode signature by `cert`'s key.
pub fn verify(image: &[u8], cert: &X509Certificate) -> Result<Signed, SignError> {
    let pe = PeImage::parse(image)?;
    let Some(entry) = pe
        .certificates()
        .filter_map(Result::ok)
        .find(|c| c.revision == CERT_REVISION_2 && c.kind == CERT_TYPE_PKCS_SIGNED_DATA)
    else {
        return Ok(Signed::Unsigned);
    };
    let mut reader = der::SliceReader::new(entry.data)?;
    let info: ContentInfo = der::Decode::decode(&mut reader)?;
    let signed: SignedData = info.content.decode_as()?;
    let signers: Vec<String> = signed
        .signer_infos
        .0
        .iter()
        .map(|s| match &s.sid {
            SignerIdentifier::IssuerAndSerialNumber(i) => {
                format!("{} (serial {})", i.issuer, i.serial_number)
            }
            SignerIdentifier::SubjectKeyIdentifier(k) => {
                format!("key identifier {:02x?}", k.0.as_bytes())
            }
        })
        .collect();
    let other = |reason: &str| {
        Ok(Signed::Otherwise {
            signers: signers.clone(),
            reason: reason.into(),
        })
    };
    let Some(content) = signed.encap_content_info.econtent.as_ref() else {
        return other("the signature holds no content");
    };
    let indirect: SpcIndirectDataContent = content.decode_as()?;
    if indirect.message_digest.algorithm.oid != OID_SHA256 {
        return other("the signature's image digest is not SHA-256");
    }
    if indirect.message_digest.digest.as_bytes() != digest(&pe) {
        return other("the image was changed after it was signed (digest mismatch)");
    }
    let content_digest: [u8; 32] = Sha256::digest(content.value()).into();
    let spki_der = cert.tbs_certificate.subject_public_key_info.to_der()?;
    let public = <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki_der)
        .map_err(|e| SignError::Rsa(e.to_string()))?;
    let verifying = VerifyingKey::<Sha256>::new(public);
    let ours = |s: &SignerInfo| -> Result<bool, SignError> {
        let SignerIdentifier::IssuerAndSerialNumber(id) = &s.sid else {
            return Ok(false);
        };
        if id.issuer != cert.tbs_certificate.issuer
            || id.serial_number != cert.tbs_certificate.serial_number
        {
            return Ok(false);
        }
        let Some(attrs) = &s.signed_attrs else {
            return Ok(false);
        };
        let digest_ok = attrs.iter().any(|a| {
            a.oid == OID_MESSAGE_DIGEST && a.values.iter().any(|v| v.value() == content_digest)
        });
        let Ok(sig) = Signature::try_from(s.signature.as_bytes()) else {
            return Ok(false);
        };
        Ok(digest_ok && verifying.verify(&attrs.to_der()?, &sig).is_ok())
    };
    for s in signed.signer_infos.0.iter() {
        if ours(s)? {
            return Ok(Signed::ByCertificate);
        }
    }
    other("not signed by this certificate")
}

/// A new RSA-2048 signing key and its self-signed certificate (serial random, valid from
/// now for 30 years, code signing), named `common_name`.
pub fn new_signing_key(
    common_name: &str,
    now_unix: u64,
) -> Result<(RsaPrivateKey, X509Certificate), SignError> {
    use std::str::FromStr;
    use std::time::Duration;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::time::{Time, Validity};

    let mut rng = rand_core::OsRng;
    let key = RsaPrivateKey::new(&mut rng, 2048).map_err(|e| SignError::Rsa(e.to_string()))?;
    let signing_key = SigningKey::<Sha256>::new(key.clone());
    let mut serial = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rng, &mut serial);
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let subject = Name::from_str(&format!("CN={},O=bootshelf", escape_rdn(common_name)))?;
    let from = Duration::from_secs(now_unix);
    let until = from + Duration::from_secs(30 * 365 * 24 * 3600);
    let validity = Validity {
        not_before: Time::GeneralTime(der::asn1::GeneralizedTime::from_unix_duration(from)?),
        not_after: Time::GeneralTime(der::asn1::GeneralizedTime::from_unix_duration(until)?),
    };
    let spki = spki::SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
        .map_err(|e| SignError::Rsa(e.to_string()))?;
    let mut builder = CertificateBuilder::new(
        Profile::Leaf {
            issuer: subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        SerialNumber::new(&serial)?,
        validity,
        subject,
        spki,
        &signing_key,
    )
    .map_err(|e| SignError::Rsa(e.to_string()))?;
    builder
        .add_extension(&KeyUsage(KeyUsages::DigitalSignature.into()))
        .map_err(|e| SignError::Rsa(e.to_string()))?;
    builder
        .add_extension(&ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap(
            "1.3.6.1.5.5.7.3.3",
        )]))
        .map_err(|e| SignError::Rsa(e.to_string()))?;
    let cert = builder
        .build::<Signature>()
        .map_err(|e| SignError::Rsa(e.to_string()))?;
    Ok((key, cert))
}

/// Escapes the characters RFC 4514 reserves in an attribute value.
fn escape_rdn(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub use rsa::RsaPrivateKey as PrivateKey;
pub use x509_cert::Certificate;

/// A private key as PKCS#8 PEM (what `openssl` and `sbsign` read).
pub fn key_to_pem(key: &RsaPrivateKey) -> Result<String, SignError> {
    use rsa::pkcs8::EncodePrivateKey;
    key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| SignError::Rsa(e.to_string()))
}

/// A private RSA key from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) or DER.
pub fn key_from_bytes(bytes: &[u8]) -> Result<RsaPrivateKey, SignError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let text = std::str::from_utf8(bytes).ok();
    let key = match text {
        Some(t) if t.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") => Err(
            "the key is encrypted; write a decrypted copy (`openssl pkey -in KEY -out \
             plain.pem`) and give that"
                .to_string(),
        ),
        Some(t) if t.contains("-----BEGIN PRIVATE KEY-----") => {
            RsaPrivateKey::from_pkcs8_pem(t).map_err(|e| e.to_string())
        }
        Some(t) if t.contains("-----BEGIN RSA PRIVATE KEY-----") => {
            RsaPrivateKey::from_pkcs1_pem(t).map_err(|e| e.to_string())
        }
        _ => RsaPrivateKey::from_pkcs8_der(bytes)
            .or_else(|_| RsaPrivateKey::from_pkcs1_der(bytes))
            .map_err(|e| e.to_string()),
    };
    key.map_err(|e| {
        SignError::Rsa(format!(
            "not an unencrypted RSA private key in PEM or DER ({e})"
        ))
    })
}

/// A certificate as PEM.
pub fn cert_to_pem(cert: &X509Certificate) -> Result<String, SignError> {
    use der::EncodePem;
    Ok(cert.to_pem(der::pem::LineEnding::LF)?)
}

/// A certificate as DER (what MokManager and the firmware's db take).
pub fn cert_to_der(cert: &X509Certificate) -> Result<Vec<u8>, SignError> {
    Ok(cert.to_der()?)
}

/// A certificate from PEM or DER.
pub fn cert_from_bytes(bytes: &[u8]) -> Result<X509Certificate, SignError> {
    use der::DecodePem;
    match std::str::from_utf8(bytes) {
        Ok(t) if t.contains("-----BEGIN CERTIFICATE-----") => {
            let start = t.find("-----BEGIN CERTIFICATE-----").unwrap_or(0);
            Ok(X509Certificate::from_pem(&t[start..])?)
        }
        _ => Ok(X509Certificate::from_der(bytes)?),
    }
}

/// Whether `cert` certifies `key` (same public key).
pub fn cert_matches_key(cert: &X509Certificate, key: &RsaPrivateKey) -> bool {
    let Ok(spki) = spki::SubjectPublicKeyInfoOwned::from_key(key.to_public_key()) else {
        return false;
    };
    spki == cert.tbs_certificate.subject_public_key_info
}

/// The certificate's subject, as text (`CN=...,O=...`).
pub fn cert_subject(cert: &X509Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}
