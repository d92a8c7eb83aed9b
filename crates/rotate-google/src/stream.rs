//! Reading a Gemini stream (`alt=sse`): every `data:` is a whole partial response whose
//! text adds to the answer; the chunk with a `finishReason` ends it and carries the
//! complete usage. An error object or a blocked prompt mid-stream is an error; a stream
//! that ends before any `finishReason` is truncated.

use std::collections::VecDeque;

use rotate_core::error::ProviderError;
use rotate_core::provider::StreamDelta;
use rotate_providers::events::StreamProtocol;
use rotate_providers::sse::SseEvent;

use crate::reply::read_piece;

/// The Gemini stream grammar (AI Studio and Vertex alike).
#[derive(Debug, Default)]
pub struct GeminiStream {
    done: bool,
    /// Function calls streamed so far (numbers the next ones; a `STOP` after them is
    /// `tool_calls`).
    calls: u32,
}

impl StreamProtocol for GeminiStream {
    fn on_event(
        &mut self,
        event: SseEvent<'_>,
        out: &mut VecDeque<StreamDelta>,
    ) -> Result<(), ProviderError> {
        let Some(value) = event.json("Gemini stream chunk")? else {
            return Ok(());
        };
        let mut piece = read_piece(&value)?;
        let first_call = self.calls;
        self.calls += u32::try_from(piece.tool_calls.len()).unwrap_or(u32::MAX);
        if piece.finish_reason.as_deref() == Some("STOP") && self.calls > 0 {
            piece.finish_reason = Some("tool_calls".to_owned());
        }
        if piece.finish_reason.is_some() {
            self.done = true;
        } else {
            // usage is complete on the last chunk only
            piece.usage = None;
        }
        let delta = piece.into_delta(first_call);
        if delta.has_content() {
            out.push_back(delta);
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.done
    }

    fn name(&self) -> &'static str {
        "Gemini"
    }

    /// Gemini frames its `alt=sse` events with `\r\n`.
    fn line_end(&self) -> &'static str {
        "\r\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotate_core::error::ErrorKind;
    use rotate_providers::sse::SseDecoder;

    /// Feeds `transcript` split at `at` and collects what the protocol yields.
    fn run(transcript: &str, at: usize) -> (Vec<StreamDelta>, Result<(), ProviderError>, bool) {
        let mut protocol = GeminiStream::default();
        let mut out = VecDeque::new();
        let mut decoder = SseDecoder::new();
        let bytes = transcript.as_bytes();
        let mut result = Ok(());
        for chunk in [&bytes[..at], &bytes[at..]] {
            let mut on_event = |e: SseEvent<'_>| protocol.on_event(e, &mut out);
            if let Err(e) = decoder.feed(chunk, &mut on_event) {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            let mut on_event = |e: SseEvent<'_>| protocol.on_event(e, &mut out);
            result = decoder.finish(&mut on_event);
        }
        let finished = protocol.finished();
        (out.into_iter().collect(), result, finished)
    }

    const TRANSCRIPT: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"thinking…\", \"thought\": true}],\"role\": \"model\"}}],\"usageMetadata\": {\"promptTokenCount\": 5},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Héllo\"}],\"role\": \"model\"}}],\"usageMetadata\": {\"promptTokenCount\": 5,\"candidatesTokenCount\": 1}}\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" world\"}],\"role\": \"model\"},\"finishReason\": \"STOP\"}],\"usageMetadata\": {\"promptTokenCount\": 5,\"candidatesTokenCount\": 2,\"thoughtsTokenCount\": 3,\"totalTokenCount\": 10}}\r\n\r\n";

    #[test]
    fn text_accumulates_and_usage_comes_with_the_finish_at_every_split() {
        for at in 0..=TRANSCRIPT.len() {
            let (deltas, result, finished) = run(TRANSCRIPT, at);
            result.unwrap();
            assert!(finished);
            let text: String = deltas.iter().map(|d| d.delta.as_str()).collect();
            assert_eq!(text, "Héllo world", "split at {at}");
            let usages: Vec<_> = deltas.iter().filter_map(|d| d.usage).collect();
            assert_eq!(usages.len(), 1);
            assert_eq!(usages[0].completion_tokens, 5);
            assert_eq!(usages[0].reasoning_tokens, 3);
            assert_eq!(
                deltas.last().unwrap().finish_reason.as_deref(),
                Some("STOP")
            );
        }
    }

    #[test]
    fn a_stream_without_finish_is_unfinished_and_errors_are_errors() {
        let cut = TRANSCRIPT.rsplit_once("data:").unwrap().0;
        let (_, result, finished) = run(cut, 0);
        assert!(result.is_ok());
        assert!(!finished);
        let error = "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n";
        let (_, result, _) = run(error, 3);
        assert_eq!(result.unwrap_err().kind, ErrorKind::Overloaded);
        let (_, result, _) = run("data: {not json\r\n\r\n", 0);
        assert_eq!(result.unwrap_err().kind, ErrorKind::Decode);
    }
}
