//! The stored form of an event's document in the events table: the AuditEvent JSON without the
//! raw record (S3 holds it; the item keeps `raw_ref`), compressed with zstd and a dictionary
//! trained on AuditEvent JSON, behind a one-byte codec version.
//!
//! Why a dictionary: a normalized sign-in is about 1.7 KB of JSON, and an item's write costs one
//! unit per started KB. Plain zstd or gzip brings it to about 900 bytes, key attributes then
//! push the item past 1 KB; most of a small JSON document is its field names and recurring
//! values, which is what a dictionary carries, so the same document compresses to a few hundred
//! bytes (BENCHMARKS.md, "Hot store"). The dictionary (`doc-dict-1.zstd`, 16 KB) was trained
//! once with `zstd --train --maxdict=16384 -19` over 6,000 normalized simulator records
//! (directory audits and sign-ins, `auditlake-bench gen --seed 7`, a seed the benchmarks do not
//! use). A dictionary is part of the stored format: it never changes. A better one is a new codec
//! version beside it, and every version ever written stays readable.

use std::io::Read;
use std::sync::OnceLock;

use domain::model::AuditEvent;
use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// Codec 1: zstd with dictionary 1 over the AuditEvent JSON.
const CODEC_ZSTD_DICT_1: u8 = 1;
/// Codec 0: the AuditEvent JSON as it is (never written; read for hand-made items).
const CODEC_PLAIN: u8 = 0;
/// Level 3, zstd's default: compression at several hundred MB/s; higher levels gained under 3%
/// on these documents.
const LEVEL: i32 = 3;
/// Largest document decoded: DynamoDB's item limit.
const MAX_DOC_BYTES: u64 = 400 * 1024;

static DICT_1: &[u8] = include_bytes!("doc-dict-1.zstd");

fn encoder_dict() -> &'static EncoderDictionary<'static> {
    static D: OnceLock<EncoderDictionary<'static>> = OnceLock::new();
    D.get_or_init(|| EncoderDictionary::copy(DICT_1, LEVEL))
}

fn decoder_dict() -> &'static DecoderDictionary<'static> {
    static D: OnceLock<DecoderDictionary<'static>> = OnceLock::new();
    D.get_or_init(|| DecoderDictionary::copy(DICT_1))
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("the event cannot be serialized: {0}")]
    Serialize(serde_json::Error),
    #[error("compression failed: {0}")]
    Compress(std::io::Error),
    #[error("the stored document is empty")]
    Empty,
    #[error("the stored document has codec version {0}, which this build cannot read")]
    UnknownCodec(u8),
    #[error("the stored document does not decompress: {0}")]
    Decompress(std::io::Error),
    #[error("the stored document decompresses past {MAX_DOC_BYTES} bytes")]
    TooLarge,
    #[error("the stored document is not an AuditEvent: {0}")]
    Json(serde_json::Error),
}

/// The event as the table stores it: `raw` is left out when the event has a `raw_ref`.
pub fn encode(event: &AuditEvent) -> Result<Vec<u8>, CodecError> {
    let json = if event.raw_ref.is_some() && event.raw.is_some() {
        let mut e = event.clone();
        e.raw = None;
        serde_json::to_vec(&e)
    } else {
        serde_json::to_vec(event)
    }
    .map_err(CodecError::Serialize)?;
    let mut c = zstd::bulk::Compressor::with_prepared_dictionary(encoder_dict())
        .map_err(CodecError::Compress)?;
    let body = c.compress(&json).map_err(CodecError::Compress)?;
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(CODEC_ZSTD_DICT_1);
    out.extend_from_slice(&body);
    Ok(out)
}

/// The event a stored document holds.
pub fn decode(stored: &[u8]) -> Result<AuditEvent, CodecError> {
    let (&codec, body) = stored.split_first().ok_or(CodecError::Empty)?;
    let json = match codec {
        CODEC_ZSTD_DICT_1 => {
            let d = zstd::stream::read::Decoder::with_prepared_dictionary(body, decoder_dict())
                .map_err(CodecError::Decompress)?;
            let mut out = Vec::with_capacity(body.len() * 4);
            d.take(MAX_DOC_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(CodecError::Decompress)?;
            if out.len() as u64 > MAX_DOC_BYTES {
                return Err(CodecError::TooLarge);
            }
            out
        }
        CODEC_PLAIN => body.to_vec(),
        other => return Err(CodecError::UnknownCodec(other)),
    };
    serde_json::from_slice(&json).map_err(CodecError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::model::{RawRef, Source};
    use domain::normalize::Context;

    fn event() -> AuditEvent {
        let record = serde_json::json!({
            "id": "4e1f0c2a-7a61-4d0e-9b1c-2f3a4b5c6d01", "createdDateTime": "2024-05-20T07:41:12.345Z",
            "userPrincipalName": "adele@contoso.com", "userId": "u1", "appDisplayName": "Office",
            "ipAddress": "203.0.113.9", "status": {"errorCode": 0}
        });
        let ctx = Context {
            tenant_id: "t",
            stream: Some("interactiveUser"),
            ingested_at: chrono::Utc::now(),
        };
        let raw = serde_json::value::to_raw_value(&record).unwrap();
        domain::normalize::normalize(Source::EntraSignIns, &raw, ctx).unwrap()
    }

    #[test]
    fn a_document_round_trips_and_leaves_raw_to_its_reference() {
        let mut e = event();
        let inline = decode(&encode(&e).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&inline).unwrap(),
            serde_json::to_value(&e).unwrap(),
            "without a raw_ref the raw record stays inline"
        );
        e.raw_ref = Some(RawRef {
            key: "raw/source=entra-sign-ins/x.json.gz".into(),
            line: 3,
        });
        let stored = encode(&e).unwrap();
        let back = decode(&stored).unwrap();
        assert!(back.raw.is_none());
        assert_eq!(back.raw_ref.as_ref().unwrap().line, 3);
        e.raw = None;
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&e).unwrap()
        );
        let json_len = serde_json::to_vec(&e).unwrap().len();
        assert!(
            stored.len() * 2 < json_len,
            "{} stored bytes for {json_len} bytes of JSON",
            stored.len()
        );
    }

    #[test]
    fn unknown_or_damaged_documents_are_errors_not_panics() {
        assert!(matches!(decode(&[]), Err(CodecError::Empty)));
        assert!(matches!(
            decode(&[9, 1, 2]),
            Err(CodecError::UnknownCodec(9))
        ));
        assert!(matches!(
            decode(&[CODEC_ZSTD_DICT_1, 1, 2, 3]),
            Err(CodecError::Decompress(_))
        ));
        let plain = serde_json::to_vec(&event()).unwrap();
        let mut stored = vec![CODEC_PLAIN];
        stored.extend_from_slice(&plain);
        assert_eq!(decode(&stored).unwrap().dedupe_key, event().dedupe_key);
        // A bomb: a small frame that expands past the item limit is refused.
        let big = vec![b' '; 600 * 1024];
        let mut c = zstd::bulk::Compressor::with_prepared_dictionary(encoder_dict()).unwrap();
        let mut bomb = vec![CODEC_ZSTD_DICT_1];
        bomb.extend(c.compress(&big).unwrap());
        assert!(bomb.len() < 1024);
        assert!(matches!(decode(&bomb), Err(CodecError::TooLarge)));
    }
}
