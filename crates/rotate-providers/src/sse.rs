//! One server-sent-events decoder for every vendor.
//!
//! Lines end in `\n`, `\r\n` or `\r`; a blank line ends an event; `event:` names it;
//! `data:` lines join with `\n`; lines starting with `:` are comments (keep-alives) and
//! are skipped; one space after the colon is dropped. Bytes may arrive split anywhere,
//! even inside a UTF-8 character or between `\r` and `\n`: partial lines are kept until
//! their end arrives, and text is decoded per whole line.

use rotate_core::error::{ErrorKind, ProviderError};

/// The largest event the decoder accepts (data of all its lines).
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// One decoded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` name, empty when none was given.
    pub event: &'a str,
    /// The `data:` lines joined with `\n`.
    pub data: &'a str,
}

impl SseEvent<'_> {
    /// The event framed again as it came (`event:` line when named, one `data:` line per
    /// line of data, a blank line), lines ended by `eol` (`\n`, or `\r\n` for vendors
    /// that frame so), for passing it on unchanged.
    pub fn framed(&self, eol: &str) -> String {
        let mut out = String::with_capacity(self.event.len() + self.data.len() + 16);
        if !self.event.is_empty() {
            out.push_str("event: ");
            out.push_str(self.event);
            out.push_str(eol);
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push_str(eol);
        }
        out.push_str(eol);
        out
    }

    /// The event's data as JSON; `None` when it is blank (keep-alives).
    pub fn json(&self, what: &str) -> Result<Option<serde_json::Value>, ProviderError> {
        if self.data.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(self.data)
            .map(Some)
            .map_err(|e| crate::errors::malformed(what, e))
    }
}

/// An incremental SSE decoder.
#[derive(Debug, Default)]
pub struct SseDecoder {
    partial: Vec<u8>,
    skip_lf: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; `on_event` is called for each completed event.
    pub fn feed<F>(&mut self, mut bytes: &[u8], on_event: &mut F) -> Result<(), ProviderError>
    where
        F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
    {
        if self.skip_lf {
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
            if !bytes.is_empty() {
                self.skip_lf = false;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            let line_end = bytes[end];
            if self.partial.is_empty() {
                self.line(&bytes[..end], on_event)?;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&bytes[..end]);
                self.line(&line, on_event)?;
                line.clear();
                self.partial = line;
            }
            bytes = &bytes[end + 1..];
            if line_end == b'\r' {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
        }
        if !bytes.is_empty() {
            if self.partial.len() + bytes.len() > MAX_EVENT_BYTES {
                return Err(too_large());
            }
            self.partial.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// Ends the stream: a last line without its line end, and an event without its blank
    /// line, are still delivered.
    pub fn finish<F>(&mut self, on_event: &mut F) -> Result<(), ProviderError>
    where
        F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
    {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, on_event)?;
        }
        self.dispatch(on_event)
    }

    fn line<F>(&mut self, line: &[u8], on_event: &mut F) -> Result<(), ProviderError>
    where
        F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
    {
        if line.is_empty() {
            return self.dispatch(on_event);
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.data.len() + value.len() > MAX_EVENT_BYTES {
                    return Err(too_large());
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&value);
            }
            _ => {} // id, retry and unknown fields do not concern us
        }
        Ok(())
    }

    fn dispatch<F>(&mut self, on_event: &mut F) -> Result<(), ProviderError>
    where
        F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
    {
        if !self.has_data && self.event.is_empty() {
            return Ok(());
        }
        let result = on_event(SseEvent {
            event: &self.event,
            data: &self.data,
        });
        self.event.clear();
        self.data.clear();
        self.has_data = false;
        result
    }
}

fn too_large() -> ProviderError {
    ProviderError::new(
        ErrorKind::Decode,
        format!("an SSE event exceeded {MAX_EVENT_BYTES} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_in_pieces(input: &[u8], cuts: &[usize]) -> Vec<(String, String)> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        let mut sink = |e: SseEvent<'_>| {
            events.push((e.event.to_owned(), e.data.to_owned()));
            Ok(())
        };
        let mut start = 0;
        for &cut in cuts {
            decoder.feed(&input[start..cut], &mut sink).unwrap();
            start = cut;
        }
        decoder.feed(&input[start..], &mut sink).unwrap();
        decoder.finish(&mut sink).unwrap();
        events
    }

    fn decode(input: &[u8]) -> Vec<(String, String)> {
        decode_in_pieces(input, &[])
    }

    #[test]
    fn events_names_multiline_data_and_comments() {
        let input = b": OPENROUTER PROCESSING\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\ndata: a\ndata:b\ndata:  c\n\n";
        assert_eq!(
            decode(input),
            [
                ("ping".into(), "{\"type\":\"ping\"}".into()),
                (String::new(), "a\nb\n c".into())
            ]
        );
    }

    #[test]
    fn every_line_ending_works() {
        for input in [
            &b"data: x\n\ndata: y\n\n"[..],
            b"data: x\r\n\r\ndata: y\r\n\r\n",
            b"data: x\r\rdata: y\r\r",
        ] {
            assert_eq!(
                decode(input),
                [(String::new(), "x".into()), (String::new(), "y".into())]
            );
        }
    }

    #[test]
    fn a_last_event_without_blank_line_is_delivered() {
        assert_eq!(decode(b"data: [DONE]"), [(String::new(), "[DONE]".into())]);
        assert_eq!(
            decode(b"data: [DONE]\n"),
            [(String::new(), "[DONE]".into())]
        );
    }

    #[test]
    fn empty_data_still_makes_an_event_and_blank_lines_alone_do_not() {
        assert_eq!(decode(b"\n\n\ndata:\n\n"), [(String::new(), String::new())]);
    }

    #[test]
    fn every_split_point_gives_the_same_events_even_inside_utf8_and_crlf() {
        let input = "event: content_block_delta\r\ndata: {\"text\":\"héllo – 世界 🎉\"}\r\n\r\n: keep-alive\r\n\r\ndata: [DONE]\r\n\r\n".as_bytes();
        let whole = decode(input);
        assert_eq!(whole.len(), 2);
        for cut in 0..=input.len() {
            assert_eq!(decode_in_pieces(input, &[cut]), whole, "split at {cut}");
        }
        for a in 0..input.len() {
            let b = (a * 7 + 3) % input.len();
            let (a, b) = (a.min(b), a.max(b));
            assert_eq!(decode_in_pieces(input, &[a, b]), whole, "splits at {a},{b}");
        }
    }

    #[test]
    fn byte_by_byte_feeding_matches() {
        let input = b"data: one\r\n\r\ndata: two\r\rdata: three\n\n";
        let cuts: Vec<usize> = (1..input.len()).collect();
        assert_eq!(decode_in_pieces(input, &cuts), decode(input));
    }

    #[test]
    fn huge_events_are_refused() {
        let mut decoder = SseDecoder::new();
        let chunk = vec![b'x'; 1024 * 1024];
        let mut sink = |_e: SseEvent<'_>| Ok(());
        decoder.feed(b"data: ", &mut sink).unwrap();
        let mut failed = false;
        for _ in 0..20 {
            if let Err(e) = decoder.feed(&chunk, &mut sink) {
                assert_eq!(e.kind, ErrorKind::Decode);
                failed = true;
                break;
            }
        }
        assert!(failed);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), cut in 0usize..2048) {
            let cut = cut.min(bytes.len());
            let mut decoder = SseDecoder::new();
            let mut sink = |_e: SseEvent<'_>| Ok(());
            let _ = decoder.feed(&bytes[..cut], &mut sink);
            let _ = decoder.feed(&bytes[cut..], &mut sink);
            let _ = decoder.finish(&mut sink);
        }
    }
}
