//! Loading configs: file formats, `${VAR}`, `LLM_ROTATE_` overrides, `use_keys`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use figment::Jail;
use llm_rotate::{configure_from_dict, configure_from_file, Overrides, StoreBackend, Strategy};
use serde_json::json;

#[cfg(feature = "yaml")]
const YAML: &str = r#"
defaults:
  selection_strategy: round_robin
  max_retries: 1
keys:
  - id: a
    provider: openai
    value: ${TEST_KEY_A}
  - id: b
    provider: anthropic
    env: TEST_KEY_B
  - id: c
    provider: openai
    value: ${TEST_KEY_UNSET_BUT_UNUSED}
use_keys: [a, b]
fallback_chains:
  smart:
    - provider: openai
      upstream: gpt-4o
    - provider: anthropic
"#;

fn jail_err(e: llm_rotate::ConfigurationError) -> figment::Error {
    figment::Error::from(e.to_string())
}

#[cfg(feature = "yaml")]
#[test]
fn yaml_with_variables_and_use_keys_from_the_file() {
    Jail::expect_with(|jail| {
        jail.set_env("TEST_KEY_A", "sk-from-env-aaaaaaaaaaaa");
        jail.set_env("TEST_KEY_B", "sk-ant-from-env-bbbbbbbb");
        jail.create_file("rotate.yaml", YAML)?;
        let config = configure_from_file("rotate.yaml", None).map_err(jail_err)?;
        assert_eq!(config.defaults.selection_strategy, Strategy::RoundRobin);
        assert_eq!(
            config
                .keys
                .iter()
                .map(|k| k.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            config.keys[0].value.as_ref().map(|v| v.expose()),
            Some("sk-from-env-aaaaaaaaaaaa")
        );
        assert_eq!(config.fallback_chains["smart"].len(), 2);
        // use_keys given here wins over the file's
        let only_a = configure_from_file("rotate.yaml", Some(&["a"])).map_err(jail_err)?;
        assert_eq!(only_a.keys.len(), 1);
        Ok(())
    });
}

#[cfg(feature = "yaml")]
#[test]
fn unset_variables_are_named_with_their_path() {
    Jail::expect_with(|jail| {
        jail.set_env("TEST_KEY_B", "sk-ant-from-env-bbbbbbbb");
        jail.create_file("rotate.yaml", YAML)?;
        let err = configure_from_file("rotate.yaml", None).unwrap_err();
        assert_eq!(err.path(), "keys[0].value");
        assert!(err.message().contains("TEST_KEY_A"), "{err}");
        jail.set_env("TEST_KEY_A", "x");
        let err = configure_from_file("rotate.yaml", Some(&["a", "b", "c"])).unwrap_err();
        assert!(err.message().contains("TEST_KEY_UNSET_BUT_UNUSED"), "{err}");
        Ok(())
    });
}

#[test]
fn env_overrides_nested_settings() {
    Jail::expect_with(|jail| {
        jail.set_env("LLM_ROTATE_DEFAULTS__MAX_RETRIES", "5");
        jail.set_env("LLM_ROTATE_DEFAULTS__SELECTION_STRATEGY", "weighted");
        jail.set_env("LLM_ROTATE_STATE_STORE__REDIS_NAMESPACE", "team-x");
        jail.set_env("LLM_ROTATE_TEST_SOMETHING_ELSE", "ignored");
        jail.create_file(
            "rotate.json",
            r#"{"keys": [{"id": "a", "provider": "openai", "value": "k"}], "defaults": {"max_retries": 1}}"#,
        )?;
        let config = configure_from_file("rotate.json", None).map_err(jail_err)?;
        assert_eq!(config.defaults.max_retries, 5);
        assert_eq!(config.defaults.selection_strategy, Strategy::Weighted);
        assert_eq!(config.state_store.redis_namespace, "team-x");
        assert_eq!(config.state_store.backend, StoreBackend::Memory);
        Ok(())
    });
}

#[test]
fn a_bad_env_override_is_a_configuration_error() {
    Jail::expect_with(|jail| {
        jail.set_env("LLM_ROTATE_DEFAULTS__MAX_RETRIES", "many");
        jail.create_file("rotate.json", r#"{"keys": []}"#)?;
        let err = configure_from_file("rotate.json", None).unwrap_err();
        assert_eq!(err.path(), "defaults.max_retries");
        Ok(())
    });
}

#[cfg(not(feature = "redis"))]
#[test]
fn redis_backend_needs_the_feature() {
    Jail::expect_with(|jail| {
        jail.create_file("rotate.json", r#"{"state_store": {"backend": "redis"}}"#)?;
        let err = configure_from_file("rotate.json", None).unwrap_err();
        assert_eq!(err.path(), "state_store.backend");
        Ok(())
    });
}

#[cfg(feature = "toml")]
#[test]
fn toml_files_load() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "rotate.toml",
            "[defaults]\nselection_strategy = \"priority\"\n\n[[keys]]\nid = \"a\"\nprovider = \"groq\"\nvalue = \"gsk-1\"\npriority = 2\n",
        )?;
        let config = configure_from_file("rotate.toml", None).map_err(jail_err)?;
        assert_eq!(config.defaults.selection_strategy, Strategy::Priority);
        assert_eq!(config.keys[0].priority, 2);
        jail.create_file("broken.toml", "[defaults\nx = 1\n")?;
        let err = configure_from_file("broken.toml", None).unwrap_err();
        assert!(err.message().contains("line 1"), "{err}");
        Ok(())
    });
}

#[test]
fn parse_errors_give_line_and_column() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "broken.json",
            "{\n  \"keys\": [\n    {\"id\": \"a\",,}\n  ]\n}\n",
        )?;
        let err = configure_from_file("broken.json", None).unwrap_err();
        assert!(err.message().contains("line 3"), "{err}");
        jail.create_file("broken.yaml", "defaults:\n  max_retries: [1\n")?;
        let err = configure_from_file("broken.yaml", None).unwrap_err();
        if cfg!(feature = "yaml") {
            assert!(err.message().contains("line "), "{err}");
        } else {
            assert!(err.message().contains("needs the `yaml` feature"), "{err}");
        }
        jail.create_file("rotate.ini", "x=1")?;
        let err = configure_from_file("rotate.ini", None).unwrap_err();
        assert!(err.message().contains("unknown config format"), "{err}");
        let err = configure_from_file("missing.json", None).unwrap_err();
        assert!(err.message().contains("cannot read"), "{err}");
        let cause = std::error::Error::source(&err).expect("the I/O error is kept as the source");
        assert!(cause.downcast_ref::<std::io::Error>().is_some(), "{cause}");
        assert!(!err.message().contains('\n'), "{err}");
        Ok(())
    });
}

#[test]
fn dict_registry_with_use_keys_and_overrides() {
    Jail::expect_with(|_jail| {
        let registry = json!({
            "keys": [
                {"id": "a", "provider": "openai", "value": "k1"},
                {"id": "b", "provider": "openai", "value": "k2"}
            ]
        });
        let overrides = Overrides::default()
            .strategy(Strategy::Priority)
            .priorities([("b".to_owned(), -1)].into_iter().collect());
        let config =
            configure_from_dict(registry.clone(), ["a", "b"], overrides).map_err(jail_err)?;
        assert_eq!(config.keys[1].priority, -1);
        let err =
            configure_from_dict(registry.clone(), ["a", "zz"], Overrides::default()).unwrap_err();
        assert_eq!(err.path(), "use_keys[1]");
        let err = configure_from_dict(json!([1, 2]), ["a"], Overrides::default()).unwrap_err();
        assert!(err.message().contains("mapping"));
        let err = configure_from_dict(
            json!({"keys": [{"id": "a", "provider": "openai", "value": "k", "wieght": 2}]}),
            ["a"],
            Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(err.path(), "keys[0].wieght");
        assert!(err.message().contains("did you mean `weight`?"), "{err}");
        Ok(())
    });
}
