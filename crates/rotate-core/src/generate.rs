//! [`GenerateContentRequest`]: the provider-neutral request `generate_content` builds,
//! and the mapping of a chat request onto it (for `chat` on Google providers).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::content::{Content, ContentPart};
use crate::message::ChatRequest;
use crate::message::Role;
use crate::options::GenerateOptions;

/// What `generate_content` asks of a Google provider, before it becomes a wire body.
///
/// `contents` are normalised: consecutive turns without a role are merged into one user
/// turn, so every content has a role (`user` or `model`).
///
/// ```
/// use rotate_core::generate::GenerateContentRequest;
/// use rotate_core::{Content, ContentPart, GenerateOptions};
///
/// let contents: Vec<Content> = vec!["Summarise this".into(), ContentPart::pdf_bytes(b"%PDF".to_vec()).into()];
/// let request = GenerateContentRequest::new(contents, &GenerateOptions::default());
/// assert_eq!(request.contents.len(), 1);
/// assert_eq!(request.contents[0].role.as_deref(), Some("user"));
/// assert_eq!(request.contents[0].parts.len(), 2);
/// assert_eq!(request.inline_bytes(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateContentRequest {
    /// The turns, each with a role.
    pub contents: Vec<Content>,
    /// `systemInstruction`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<String>,
    /// `generationConfig.responseMimeType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<String>,
    /// `generationConfig.maxOutputTokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// `generationConfig.temperature`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// `generationConfig.topP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// `generationConfig.seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// `generationConfig.thinkingConfig.thinkingBudget`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<i32>,
    /// Tool calls come back as data (the library never runs functions).
    pub disable_automatic_function_calling: bool,
    /// Extra body fields (`response_schema` becomes `generationConfig.responseSchema`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// A client's Gemini body, sent instead of the one built from the fields above.
    #[serde(skip)]
    pub passthrough: Option<crate::passthrough::Passthrough>,
}

impl GenerateContentRequest {
    /// The request for `contents` with `opts`.
    pub fn new(contents: Vec<Content>, opts: &GenerateOptions) -> Self {
        Self {
            contents: normalise(contents),
            system_instruction: opts.system_instruction.clone(),
            response_mime_type: opts.response_mime_type.clone(),
            max_output_tokens: opts.max_output_tokens,
            temperature: opts.temperature,
            top_p: opts.top_p,
            seed: opts.seed,
            thinking_budget: opts.thinking_budget,
            disable_automatic_function_calling: opts.disable_automatic_function_calling,
            extra: opts.extra.clone(),
            passthrough: opts.passthrough.clone(),
        }
    }

    /// A chat request as Gemini contents: system messages become the system
    /// instruction, assistant turns `model` turns, user and tool turns `user` turns
    /// (consecutive ones merged, as Gemini wants alternating roles); reasoning is kept
    /// only when `provider` produced it; tools and tool choice go in `extra` as
    /// `tools` (`functionDeclarations`) and `toolConfig`, a JSON schema answer as
    /// `responseJsonSchema`, unless `extra` names them.
    pub fn from_chat_for(request: &ChatRequest, provider: &str) -> Self {
        let mut generate = Self::from_chat(request);
        for content in &mut generate.contents {
            content.parts.retain(|part| {
                part.as_reasoning()
                    .is_none_or(|reasoning| reasoning.provider == provider)
            });
        }
        if !request.tools.is_empty() && !generate.extra.contains_key("tools") {
            let declarations: Vec<serde_json::Value> = request
                .tools
                .iter()
                .map(|tool| {
                    let mut declaration = serde_json::json!({"name": tool.name, "parametersJsonSchema": tool.parameters});
                    if let Some(description) = &tool.description {
                        declaration["description"] = serde_json::json!(description);
                    }
                    declaration
                })
                .collect();
            generate.extra.insert(
                "tools".into(),
                serde_json::json!([{"functionDeclarations": declarations}]),
            );
        }
        if let Some(crate::tool::ResponseFormat::JsonSchema { schema, .. }) =
            &request.response_format
        {
            generate.response_mime_type = Some("application/json".to_owned());
            generate
                .extra
                .entry("response_json_schema")
                .or_insert_with(|| schema.clone());
        }
        if let Some(choice) = request
            .tool_choice
            .as_ref()
            .filter(|_| !generate.extra.contains_key("toolConfig"))
        {
            use crate::tool::ToolChoice;
            let config = match choice {
                ToolChoice::Auto => serde_json::json!({"mode": "AUTO"}),
                ToolChoice::None => serde_json::json!({"mode": "NONE"}),
                ToolChoice::Required => serde_json::json!({"mode": "ANY"}),
                ToolChoice::Tool(name) => {
                    serde_json::json!({"mode": "ANY", "allowedFunctionNames": [name]})
                }
            };
            generate.extra.insert(
                "toolConfig".into(),
                serde_json::json!({"functionCallingConfig": config}),
            );
        }
        generate
    }

    /// [`from_chat_for`](Self::from_chat_for) without the tools, keeping every part.
    pub fn from_chat(request: &ChatRequest) -> Self {
        let mut system: Vec<String> = Vec::new();
        let mut contents: Vec<Content> = Vec::new();
        for message in &request.messages {
            let role = match message.role {
                Role::System => {
                    system.push(message.text());
                    continue;
                }
                Role::Assistant => "model",
                Role::User | Role::Tool => "user",
            };
            let parts = message.content.iter().cloned();
            match contents.last_mut() {
                Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
                _ => contents.push(Content {
                    role: Some(role.to_owned()),
                    parts: parts.collect(),
                }),
            }
        }
        Self {
            contents,
            system_instruction: (!system.is_empty()).then(|| system.join("\n\n")),
            response_mime_type: matches!(
                request.response_format,
                Some(
                    crate::tool::ResponseFormat::JsonObject
                        | crate::tool::ResponseFormat::JsonSchema { .. }
                )
            )
            .then(|| "application/json".to_owned()),
            max_output_tokens: request.max_tokens,
            temperature: request.temperature,
            top_p: None,
            seed: None,
            thinking_budget: request
                .reasoning_budget_tokens
                .map(|t| i32::try_from(t).unwrap_or(i32::MAX)),
            disable_automatic_function_calling: true,
            extra: request.extra.clone(),
            passthrough: request.passthrough.clone(),
        }
    }

    /// The bytes of every inline part (PDFs and images), before base64.
    pub fn inline_bytes(&self) -> usize {
        self.contents
            .iter()
            .flat_map(|c| &c.parts)
            .filter_map(ContentPart::data)
            .map(<[u8]>::len)
            .sum()
    }
}

/// Merges consecutive role-less contents into one user turn and gives every turn a role.
fn normalise(contents: Vec<Content>) -> Vec<Content> {
    let mut out: Vec<Content> = Vec::with_capacity(contents.len());
    let mut open_roleless = false;
    for content in contents {
        match content.role {
            None if open_roleless => {
                if let Some(last) = out.last_mut() {
                    last.parts.extend(content.parts);
                }
            }
            None => {
                out.push(Content {
                    role: Some("user".to_owned()),
                    parts: content.parts,
                });
                open_roleless = true;
            }
            Some(_) => {
                out.push(content);
                open_roleless = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ChatMessage;

    #[test]
    fn roleless_runs_merge_but_explicit_turns_stay_apart() {
        let contents = vec![
            Content::from("a"),
            Content::from("b"),
            Content::model(vec![ContentPart::text("c")]),
            Content::from("d"),
            Content::user(vec![ContentPart::text("e")]),
        ];
        let r = GenerateContentRequest::new(contents, &GenerateOptions::default());
        let shape: Vec<(Option<&str>, usize)> = r
            .contents
            .iter()
            .map(|c| (c.role.as_deref(), c.parts.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (Some("user"), 2),
                (Some("model"), 1),
                (Some("user"), 1),
                (Some("user"), 1)
            ]
        );
        assert!(r.disable_automatic_function_calling);
    }

    #[test]
    fn chat_messages_map_to_contents() {
        let request = ChatRequest {
            messages: vec![
                ChatMessage::system("be brief"),
                ChatMessage::user("hi"),
                ChatMessage::assistant("hello"),
                ChatMessage::user("one"),
                ChatMessage::user("two"),
            ],
            max_tokens: Some(9),
            ..ChatRequest::default()
        };
        let r = GenerateContentRequest::from_chat(&request);
        assert_eq!(r.system_instruction.as_deref(), Some("be brief"));
        let roles: Vec<&str> = r
            .contents
            .iter()
            .filter_map(|c| c.role.as_deref())
            .collect();
        assert_eq!(roles, ["user", "model", "user"]);
        assert_eq!(r.contents[2].parts.len(), 2);
        assert_eq!(r.max_output_tokens, Some(9));
    }
}
