//! The grammar of a model id a caller may ask for.
//!
//! A model id is 1 to [`MAX_MODEL_ID_LEN`] bytes of ASCII letters, digits and
//! `.` `-` `_` `:` `@` `/`, where `/` separates non-empty segments that are neither `.`
//! nor `..` (`provider/model`, OpenRouter's `openai/gpt-4o`, Fireworks'
//! `accounts/fireworks/models/x`, Vertex's `claude-sonnet-4@20250514`, Ollama's
//! `llama3:8b`). Anything else (`?`, `#`, `%`, spaces, CR/LF, other Unicode, dot
//! segments) is refused before any key is chosen, as an `InvalidRequest` that blames no
//! key. Adapters still encode the upstream model as one path segment wherever a URL
//! holds it; this check makes the refusal early, uniform and independent of the vendor.
//! Names of configured fallback chains are configuration, not caller input, and are not
//! held to it.
//!
//! ```
//! use rotate_core::model_id::check;
//!
//! assert!(check("gpt-4o").is_ok());
//! assert!(check("openrouter/anthropic/claude-sonnet-4").is_ok());
//! assert!(check("gpt-4o/../../admin").is_err());
//! assert!(check("gpt-4o?api-version=1").is_err());
//! ```

use crate::error::{excerpt, ErrorKind, ProviderError};

/// The longest model id accepted, in bytes.
pub const MAX_MODEL_ID_LEN: usize = 256;

/// Checks `model` against the grammar.
pub fn check(model: &str) -> Result<(), ProviderError> {
    let problem = if model.is_empty() {
        Some("is empty".to_owned())
    } else if model.len() > MAX_MODEL_ID_LEN {
        Some(format!("is longer than {MAX_MODEL_ID_LEN} bytes"))
    } else if let Some(c) = model.chars().find(|&c| !allowed(c)) {
        Some(format!(
            "holds {}, which a model id cannot hold",
            describe(c)
        ))
    } else if model
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        Some("has an empty, `.` or `..` segment".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(ProviderError::new(
            ErrorKind::InvalidRequest,
            format!(
                "the model id `{}` {problem} (letters, digits and . - _ : @ /, at most {MAX_MODEL_ID_LEN} bytes)",
                excerpt(model)
            ),
        )
        ),
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '@' | '/')
}

fn describe(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("`{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_model_ids_pass() {
        for model in [
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "o3-mini",
            "claude-sonnet-4-20250514",
            "claude-sonnet-4@20250514",
            "gemini-2.5-flash",
            "models/gemini-2.5-flash",
            "azure_openai/prod-gpt4o",
            "openrouter/openai/gpt-4o:online",
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
            "llama3.1:8b",
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        ] {
            assert!(check(model).is_ok(), "{model}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_bounded_message() {
        for model in [
            "",
            "gpt-4o/../../../admin",
            "azure_openai/x/../../y",
            "gpt-4o?api-version=1",
            "a#b",
            "gemini-2.5-flash%2F..%2Fcached",
            "a b",
            "a\r\nX-Injected: 1",
            "modèle",
            "/gpt-4o",
            "gpt-4o/",
            "a//b",
            "./a",
        ] {
            let error = check(model).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidRequest, "{model:?}");
            assert!(!error.message.contains('\n'), "{}", error.message);
        }
        let long = "a".repeat(10_000);
        let error = check(&long).unwrap_err();
        assert!(error.message.len() < 300, "{}", error.message);
        assert!(check(&"a".repeat(MAX_MODEL_ID_LEN)).is_ok());
        assert!(check(&"a".repeat(MAX_MODEL_ID_LEN + 1)).is_err());
    }
}
