//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock streams
//! its answers: each message is a 12-byte prelude (total length, headers length, both
//! big-endian `u32`, and the CRC32 of those 8 bytes), the headers, the payload, and the
//! CRC32 of everything before it. A header is a one-byte name length, the name, a
//! one-byte value type and the value (strings and byte arrays carry a `u16` length).
//!
//! Bytes may arrive split anywhere: a partial message waits for the rest. A bad CRC, a
//! length that cannot be (shorter than the prelude, past [`MAX_MESSAGE_BYTES`], headers
//! past [`MAX_HEADERS_BYTES`] or past the message), an unknown header type or a message
//! cut at the end of the body is a `Decode` error, never a clean end.
//!
//! Each message is handed on as an [`SseEvent`] so one stream machinery reads both
//! framings: an `event` message under its `:event-type`, an `exception` message under
//! its `:exception-type` (`throttlingException`, …), an `error` message under
//! [`ERROR_EVENT`] with `{"code":…,"message":…}` as its data.
//!
//! ```
//! use rotate_providers::eventstream::{encode, EventStreamDecoder};
//!
//! let frame = encode(&[(":event-type", "messageStart"), (":message-type", "event")], br#"{"role":"assistant"}"#);
//! let mut seen = Vec::new();
//! let mut decoder = EventStreamDecoder::new();
//! decoder.feed(&frame[..5], &mut |e| { seen.push(e.event.to_owned()); Ok(()) }).unwrap();
//! decoder.feed(&frame[5..], &mut |e| { seen.push(e.event.to_owned()); Ok(()) }).unwrap();
//! assert_eq!(seen, ["messageStart"]);
//! ```

use rotate_core::error::{ErrorKind, ProviderError};

use crate::sse::SseEvent;

/// The largest message accepted (AWS's own limit is 16 MiB of payload).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024 + 128 * 1024 + 16;
/// The largest headers section accepted (AWS's limit).
pub const MAX_HEADERS_BYTES: usize = 128 * 1024;
/// The event name an `error` message is handed on under.
pub const ERROR_EVENT: &str = ":error";

const PRELUDE: usize = 12;
const TRAILER: usize = 4;

fn corrupt(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(
        ErrorKind::Decode,
        format!("the event stream is corrupt: {what}"),
    )
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// An incremental decoder of AWS event-stream messages.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buffer: Vec<u8>,
}

impl EventStreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; `on_event` is called for each whole message.
    pub fn feed<F>(&mut self, bytes: &[u8], on_event: &mut F) -> Result<(), ProviderError>
    where
        F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
    {
        self.buffer.extend_from_slice(bytes);
        let mut start = 0;
        let result = loop {
            let rest = &self.buffer[start..];
            if rest.len() < PRELUDE {
                break Ok(());
            }
            let total = be32(&rest[0..4]) as usize;
            let headers_len = be32(&rest[4..8]) as usize;
            let prelude_crc = be32(&rest[8..12]);
            if crc32fast::hash(&rest[0..8]) != prelude_crc {
                break Err(corrupt("the prelude's CRC does not match"));
            }
            if !(PRELUDE + TRAILER..=MAX_MESSAGE_BYTES).contains(&total) {
                break Err(corrupt(format!("a message claims {total} bytes")));
            }
            if headers_len > MAX_HEADERS_BYTES || headers_len > total - PRELUDE - TRAILER {
                break Err(corrupt(format!(
                    "a message of {total} bytes claims {headers_len} bytes of headers"
                )));
            }
            if rest.len() < total {
                break Ok(());
            }
            let message = &rest[..total];
            let crc = be32(&message[total - TRAILER..]);
            if crc32fast::hash(&message[..total - TRAILER]) != crc {
                break Err(corrupt("a message's CRC does not match"));
            }
            let headers = &message[PRELUDE..PRELUDE + headers_len];
            let payload = &message[PRELUDE + headers_len..total - TRAILER];
            if let Err(error) = dispatch(headers, payload, on_event) {
                break Err(error);
            }
            start += total;
        };
        self.buffer.drain(..start);
        if result.is_err() {
            self.buffer.clear();
        }
        result
    }

    /// The end of the body: bytes of an unfinished message are a cut stream.
    pub fn finish(&mut self) -> Result<(), ProviderError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.buffer).len();
        Err(corrupt(format!(
            "the body ended inside a message ({held} bytes of it arrived)"
        )))
    }
}

/// A header's string value (other types are skipped over).
fn headers_of(mut bytes: &[u8]) -> Result<Vec<(&str, &str)>, ProviderError> {
    let mut out = Vec::new();
    let short = || corrupt("a header runs past the headers section");
    while !bytes.is_empty() {
        let name_len = usize::from(bytes[0]);
        let name = bytes.get(1..1 + name_len).ok_or_else(short)?;
        let name = std::str::from_utf8(name).map_err(|_| corrupt("a header name is not UTF-8"))?;
        bytes = &bytes[1 + name_len..];
        let kind = *bytes.first().ok_or_else(short)?;
        bytes = &bytes[1..];
        let fixed = match kind {
            0 | 1 => Some(0),
            2 => Some(1),
            3 => Some(2),
            4 => Some(4),
            5 | 8 => Some(8),
            9 => Some(16),
            6 | 7 => None,
            other => return Err(corrupt(format!("unknown header value type {other}"))),
        };
        match fixed {
            Some(n) => bytes = bytes.get(n..).ok_or_else(short)?,
            None => {
                let len_bytes = bytes.get(..2).ok_or_else(short)?;
                let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
                let value = bytes.get(2..2 + len).ok_or_else(short)?;
                if kind == 7 {
                    let value = std::str::from_utf8(value)
                        .map_err(|_| corrupt("a header value is not UTF-8"))?;
                    out.push((name, value));
                }
                bytes = &bytes[2 + len..];
            }
        }
    }
    Ok(out)
}

fn dispatch<F>(headers: &[u8], payload: &[u8], on_event: &mut F) -> Result<(), ProviderError>
where
    F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
{
    let headers = headers_of(headers)?;
    let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let data =
        std::str::from_utf8(payload).map_err(|_| corrupt("a message's payload is not UTF-8"))?;
    match header(":message-type").unwrap_or("event") {
        "event" => on_event(SseEvent {
            event: header(":event-type").unwrap_or(""),
            data,
        }),
        "exception" => on_event(SseEvent {
            event: header(":exception-type").unwrap_or("unknownException"),
            data,
        }),
        "error" => {
            let error = serde_json::json!({
                "code": header(":error-code").unwrap_or(""),
                "message": header(":error-message").unwrap_or(""),
            })
            .to_string();
            on_event(SseEvent {
                event: ERROR_EVENT,
                data: &error,
            })
        }
        other => Err(corrupt(format!("unknown message type `{other}`"))),
    }
}

/// One message with string `headers` and `payload`, framed with its CRCs, as a server
/// sends it (for tests of code that reads event streams; the fake upstream keeps an
/// encoder of its own, so a mistake here cannot hide one in the decoder).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        head.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
        head.push(7);
        let len = value.len().min(usize::from(u16::MAX));
        head.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        head.extend_from_slice(&value.as_bytes()[..len]);
    }
    let total = PRELUDE + head.len() + payload.len() + TRAILER;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&u32::try_from(head.len()).unwrap_or(u32::MAX).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8], split: usize) -> Result<Vec<(String, String)>, ProviderError> {
        let mut seen = Vec::new();
        let mut decoder = EventStreamDecoder::new();
        let mut on = |e: SseEvent<'_>| {
            seen.push((e.event.to_owned(), e.data.to_owned()));
            Ok(())
        };
        let split = split.min(bytes.len());
        decoder.feed(&bytes[..split], &mut on)?;
        decoder.feed(&bytes[split..], &mut on)?;
        decoder.finish()?;
        Ok(seen)
    }

    fn event(name: &str, payload: &str) -> Vec<u8> {
        encode(
            &[
                (":event-type", name),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.as_bytes(),
        )
    }

    #[test]
    fn messages_split_anywhere_decode_the_same() {
        let mut bytes = event("messageStart", r#"{"role":"assistant"}"#);
        bytes.extend(encode(
            &[
                (":exception-type", "throttlingException"),
                (":message-type", "exception"),
            ],
            br#"{"message":"slow down"}"#,
        ));
        bytes.extend(encode(
            &[
                (":message-type", "error"),
                (":error-code", "InternalFailure"),
                (":error-message", "boom"),
            ],
            b"",
        ));
        for split in 0..=bytes.len() {
            let seen = decode_all(&bytes, split).unwrap();
            assert_eq!(seen.len(), 3);
            assert_eq!(
                seen[0],
                ("messageStart".into(), r#"{"role":"assistant"}"#.into())
            );
            assert_eq!(seen[1].0, "throttlingException");
            assert_eq!(seen[2].0, ERROR_EVENT);
            assert!(seen[2].1.contains("InternalFailure"), "{}", seen[2].1);
        }
    }

    #[test]
    fn other_header_types_are_skipped() {
        let mut head = Vec::new();
        for (kind, value) in [
            (0u8, vec![]),
            (2, vec![1]),
            (3, vec![0, 1]),
            (4, vec![0; 4]),
            (5, vec![0; 8]),
            (8, vec![0; 8]),
            (9, vec![0; 16]),
            (6, vec![0, 2, 0xff, 0xfe]),
        ] {
            head.push(1);
            head.push(b'x');
            head.push(kind);
            head.extend(value);
        }
        let name = ":event-type";
        head.push(name.len() as u8);
        head.extend(name.as_bytes());
        head.push(7);
        head.extend(4u16.to_be_bytes());
        head.extend(b"ping");
        let total = 12 + head.len() + 2 + 4;
        let mut bytes = (total as u32).to_be_bytes().to_vec();
        bytes.extend((head.len() as u32).to_be_bytes());
        let crc = crc32fast::hash(&bytes);
        bytes.extend(crc.to_be_bytes());
        bytes.extend(&head);
        bytes.extend(b"{}");
        let crc = crc32fast::hash(&bytes);
        bytes.extend(crc.to_be_bytes());
        assert_eq!(
            decode_all(&bytes, 3).unwrap(),
            [("ping".into(), "{}".into())]
        );
    }

    #[test]
    fn corruption_is_an_error_never_a_clean_end() {
        let good = event("contentBlockDelta", r#"{"delta":{"text":"hi"}}"#);
        let mut bad_crc = good.clone();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 1;
        let mut bad_payload = good.clone();
        bad_payload[good.len() - 6] ^= 0x20;
        let mut bad_prelude = good.clone();
        bad_prelude[3] ^= 1;
        let cut = &good[..good.len() - 1];
        let mut huge = Vec::new();
        huge.extend(((16u32 << 20) + 64).to_be_bytes());
        huge.extend((16u32 << 20).to_be_bytes());
        let crc = crc32fast::hash(&huge);
        huge.extend(crc.to_be_bytes());
        let mut headers_past = Vec::new();
        headers_past.extend(64u32.to_be_bytes());
        headers_past.extend(60u32.to_be_bytes());
        let crc = crc32fast::hash(&headers_past);
        headers_past.extend(crc.to_be_bytes());
        for (what, bytes) in [
            ("message crc", &bad_crc[..]),
            ("payload", &bad_payload[..]),
            ("prelude crc", &bad_prelude[..]),
            ("cut", cut),
            ("16 MB of headers", &huge[..]),
            ("headers past the message", &headers_past[..]),
        ] {
            let error = decode_all(bytes, bytes.len() / 2).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Decode, "{what}");
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
            let _ = decode_all(&bytes, split);
        }

        #[test]
        fn a_flipped_bit_is_always_caught(at in 0usize..64, bit in 0u8..8) {
            let good = event("messageStop", r#"{"stopReason":"end_turn"}"#);
            let mut bad = good.clone();
            let at = at % good.len();
            bad[at] ^= 1 << bit;
            prop_assert!(decode_all(&bad, bad.len()).is_err());
        }
    }
}
