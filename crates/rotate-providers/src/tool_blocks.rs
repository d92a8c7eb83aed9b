//! The tool calls of a stream that carries each call in its own numbered content block
//! (Anthropic, Bedrock): a block's start names the call and gives it the next call
//! index; later pieces of its arguments find that index by the block's number.

use rotate_core::error::ProviderError;
use rotate_core::provider::StreamDelta;
use rotate_core::tool::ToolCallDelta;
use serde_json::Value;

use crate::errors::malformed;
use crate::json::text;

/// (content block index, tool call index) of every tool-call block so far.
#[derive(Debug, Default)]
pub(crate) struct ToolBlocks {
    calls: Vec<(u64, u32)>,
}

fn one_call(
    index: u32,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
) -> StreamDelta {
    StreamDelta {
        tool_calls: vec![ToolCallDelta {
            index,
            id,
            name,
            arguments,
        }],
        ..StreamDelta::default()
    }
}

impl ToolBlocks {
    /// The delta opening the call of content block `at`, its id read from `block`'s
    /// `id_field` and its name from `name`; `kind` names the block in the error
    /// (`` a `tool_use` block ``).
    pub(crate) fn start(
        &mut self,
        at: u64,
        block: &Value,
        id_field: &str,
        kind: &str,
    ) -> Result<StreamDelta, ProviderError> {
        let field = |name: &str| -> Result<String, ProviderError> {
            text(block, name, "stream event")?
                .map(str::to_owned)
                .ok_or_else(|| malformed("stream event", format!("{kind} has no `{name}`")))
        };
        let (id, name) = (field(id_field)?, field("name")?);
        let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
        self.calls.push((at, index));
        Ok(one_call(index, Some(id), Some(name), String::new()))
    }

    /// The delta adding `piece` to the arguments of the call of content block `at`
    /// (none when the piece is empty); a block that opened no call is the error
    /// `outside`.
    pub(crate) fn arguments(
        &self,
        at: u64,
        piece: Option<String>,
        outside: &str,
    ) -> Result<Option<StreamDelta>, ProviderError> {
        let index = self
            .calls
            .iter()
            .find(|(block, _)| *block == at)
            .map(|(_, call)| *call)
            .ok_or_else(|| malformed("stream event", outside))?;
        Ok(piece.map(|arguments| one_call(index, None, None, arguments)))
    }
}
