//! Reading what Python passes: messages, contents and call options arrive as dicts and
//! lists in the engine's own serde shapes (the Python layer has already turned
//! OpenAI-style messages and tools into them), and are read with the path of the first
//! wrong field in the `TypeError`.

use std::time::Duration;

use llm_rotate::{
    ChatMessage, ChatOptions, Content, GenerateOptions, ResponseFormat, ToolChoice, ToolSpec,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pythonize::Depythonizer;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The deepest nesting of dicts and lists read (serde_json's own limit): deeper input
/// would overflow the stack when it is read, written into a request or dropped.
const MAX_DEPTH: usize = 128;

/// Refuses dicts, lists and tuples nested more than [`MAX_DEPTH`] levels deep, walking
/// them without recursion.
fn check_depth<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<()> {
    let too_deep =
        || PyTypeError::new_err(format!("{what}: nested more than {MAX_DEPTH} levels deep"));
    let mut stack = vec![(obj.clone(), 1usize)];
    while let Some((item, depth)) = stack.pop() {
        let mut push = |child: Bound<'py, PyAny>| {
            if child.is_instance_of::<PyDict>()
                || child.is_instance_of::<PyList>()
                || child.is_instance_of::<PyTuple>()
            {
                stack.push((child, depth + 1));
            }
        };
        if let Ok(dict) = item.cast::<PyDict>() {
            if depth > MAX_DEPTH {
                return Err(too_deep());
            }
            dict.iter().for_each(|(_, value)| push(value));
        } else if let Ok(list) = item.cast::<PyList>() {
            if depth > MAX_DEPTH {
                return Err(too_deep());
            }
            list.iter().for_each(&mut push);
        } else if let Ok(tuple) = item.cast::<PyTuple>() {
            if depth > MAX_DEPTH {
                return Err(too_deep());
            }
            tuple.iter().for_each(&mut push);
        }
    }
    Ok(())
}

/// Reads `obj` as a `T`, naming `what` and the path of the first wrong field.
pub fn read<T: DeserializeOwned>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    check_depth(obj, what)?;
    let mut de = Depythonizer::from_object(obj);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." || path.is_empty() {
            what.to_owned()
        } else if path.starts_with('[') {
            format!("{what}{path}")
        } else {
            format!("{what}.{path}")
        };
        PyTypeError::new_err(format!("{at}: {}", e.into_inner()))
    })
}

/// The messages of a chat call.
pub fn messages(obj: &Bound<'_, PyAny>) -> PyResult<Vec<ChatMessage>> {
    read(obj, "messages")
}

/// The contents of a `generate_content` call.
pub fn contents(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Content>> {
    read(obj, "contents")
}

/// A duration given in seconds.
fn seconds(value: Option<f64>, name: &str) -> PyResult<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                PyValueError::new_err(format!("{name} must be a number of seconds >= 0, not {s}"))
            })
        })
        .transpose()
}

/// The options of a chat call as the Python layer passes them: the reference's named
/// arguments, the typed ones it sorts out of `**kwargs`, and the rest as `extra`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ChatArgs {
    provider: Option<String>,
    max_tokens: Option<i64>,
    temperature: Option<f32>,
    max_retries: Option<i64>,
    tools: Vec<ToolSpec>,
    tool_choice: Option<ToolChoice>,
    parallel_tool_calls: Option<bool>,
    response_format: Option<ResponseFormat>,
    reasoning_effort: Option<String>,
    reasoning_budget_tokens: Option<u32>,
    timeout: Option<f64>,
    max_wait: Option<f64>,
    affinity: Option<String>,
    extra: Map<String, Value>,
}

/// A count argument as a `u32` (a negative or huge one is a `ValueError` naming it).
fn count(value: Option<i64>, name: &str) -> PyResult<Option<u32>> {
    value
        .map(|n| {
            u32::try_from(n).map_err(|_| {
                PyValueError::new_err(format!("{name} must be from 0 to {}, not {n}", u32::MAX))
            })
        })
        .transpose()
}

/// The messages and options of a chat call.
pub fn chat_call(
    messages: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<ChatMessage>, ChatOptions)> {
    let messages = self::messages(messages)?;
    let args: ChatArgs = match options {
        Some(obj) if !obj.is_none() => read(obj, "options")?,
        _ => ChatArgs::default(),
    };
    let options = ChatOptions {
        provider: args.provider,
        max_tokens: count(args.max_tokens, "max_tokens")?,
        temperature: args.temperature,
        max_retries: count(args.max_retries, "max_retries")?,
        timeout: seconds(args.timeout, "timeout")?,
        max_wait: seconds(args.max_wait, "max_wait")?,
        affinity: args.affinity,
        tools: args.tools,
        tool_choice: args.tool_choice,
        parallel_tool_calls: args.parallel_tool_calls,
        response_format: args.response_format,
        reasoning_effort: args.reasoning_effort,
        reasoning_budget_tokens: args.reasoning_budget_tokens,
        extra: args.extra,
        ..ChatOptions::default()
    };
    Ok((messages, options))
}

/// The options of a `generate_content` call, named as the reference names them
/// (unset ones keep `GenerateOptions`' defaults).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct GenerateArgs {
    system_instruction: Option<String>,
    response_mime_type: Option<String>,
    max_output_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<i64>,
    thinking_budget: Option<i32>,
    disable_automatic_function_calling: Option<bool>,
    max_retries: Option<u32>,
    provider: Option<String>,
    timeout: Option<f64>,
    extra: Map<String, Value>,
}

/// The generate options of a call.
pub fn generate_options(obj: Option<&Bound<'_, PyAny>>) -> PyResult<GenerateOptions> {
    let args: GenerateArgs = match obj {
        Some(obj) if !obj.is_none() => read(obj, "options")?,
        _ => GenerateArgs::default(),
    };
    Ok(GenerateOptions {
        system_instruction: args.system_instruction,
        response_mime_type: args.response_mime_type,
        max_output_tokens: args.max_output_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
        thinking_budget: args.thinking_budget,
        disable_automatic_function_calling: args
            .disable_automatic_function_calling
            .unwrap_or(GenerateOptions::default().disable_automatic_function_calling),
        max_retries: args.max_retries,
        provider: args.provider,
        timeout: seconds(args.timeout, "timeout")?,
        extra: args.extra,
        ..GenerateOptions::default()
    })
}
