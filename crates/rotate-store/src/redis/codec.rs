//! Reading states and announcements back from Redis, refusing malformed data (written
//! by someone else) with a clear reason instead of a panic.

use rotate_core::health::HealthState;
use rotate_core::report::KeyState;
use serde::Deserialize;

/// The fields of a state hash, in the order [`decode_state`] reads them.
pub(crate) const STATE_FIELDS: [&str; 6] =
    ["state", "until", "failures", "strikes", "transient", "auth"];

/// A state from the fields of a state hash ([`STATE_FIELDS`]; a missing `transient` or
/// `auth`, as written before they existed, reads as false or 0); `Ok(None)` when the
/// key has no state yet.
pub(crate) fn decode_state(fields: &[Option<String>]) -> Result<Option<HealthState>, String> {
    let [state, until, failures, strikes, transient, auth] = fields else {
        return Err(format!("expected 6 fields, got {}", fields.len()));
    };
    let Some(state) = state else {
        return Ok(None);
    };
    let state =
        KeyState::from_name(state).ok_or_else(|| format!("unknown state `{}`", shorten(state)))?;
    let number = |name: &str, value: &Option<String>| -> Result<u64, String> {
        match value {
            None => Ok(0),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("`{name}` is not a number: `{}`", shorten(text))),
        }
    };
    Ok(Some(HealthState {
        state,
        until_ms: number("until", until)?,
        consecutive_failures: u32::try_from(number("failures", failures)?)
            .map_err(|_| "`failures` is too large".to_owned())?,
        strikes: u32::try_from(number("strikes", strikes)?)
            .map_err(|_| "`strikes` is too large".to_owned())?,
        transient: match number("transient", transient)? {
            0 => false,
            1 => true,
            _ => return Err("`transient` is neither 0 nor 1".to_owned()),
        },
        auth_failures: u32::try_from(number("auth", auth)?)
            .map_err(|_| "`auth` is too large".to_owned())?,
    }))
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A transition announced on the namespace's channel.
#[derive(Debug, Deserialize)]
pub(crate) struct Announcement {
    /// The key id.
    pub(crate) k: String,
    /// The state name.
    s: String,
    /// Until (ms), as text.
    u: String,
    /// Consecutive failures.
    f: u32,
    /// Strikes.
    x: u32,
    /// 1 when transient failures caused the quarantine (absent from older instances).
    #[serde(default)]
    t: u8,
    /// Failed auth probes (absent from older instances).
    #[serde(default)]
    a: u32,
    /// The instance that made the transition.
    pub(crate) o: String,
}

impl Announcement {
    /// Parses a channel message.
    pub(crate) fn parse(payload: &str) -> Result<Self, String> {
        serde_json::from_str(payload).map_err(|e| format!("malformed announcement: {e}"))
    }

    /// The announced state.
    pub(crate) fn state(&self) -> Result<HealthState, String> {
        decode_state(&[
            Some(self.s.clone()),
            Some(self.u.clone()),
            Some(self.f.to_string()),
            Some(self.x.to_string()),
            Some(self.t.to_string()),
            Some(self.a.to_string()),
        ])?
        .ok_or_else(|| "empty announcement".to_owned())
    }
}

/// An affinity announced on the namespace's channel: `{"aff": hash in hex, "k": key id,
/// "o": instance}`.
#[derive(Debug, Deserialize)]
pub(crate) struct AffinityAnnouncement {
    aff: String,
    /// The key id.
    pub(crate) k: String,
    /// The instance that served the call.
    pub(crate) o: String,
}

impl AffinityAnnouncement {
    /// The message announcing that `key_id` served the affinity hashed `hash`.
    pub(crate) fn encode(hash: u64, key_id: &str, instance: &str) -> String {
        serde_json::json!({"aff": format!("{hash:016x}"), "k": key_id, "o": instance}).to_string()
    }

    /// The announcement in `payload`, when it is one (and well formed).
    pub(crate) fn parse(payload: &str) -> Option<Self> {
        let announcement: Self = serde_json::from_str(payload).ok()?;
        u64::from_str_radix(&announcement.aff, 16).ok()?;
        Some(announcement)
    }

    /// The affinity's hash.
    pub(crate) fn hash(&self) -> u64 {
        u64::from_str_radix(&self.aff, 16).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn decodes_states_and_refuses_garbage() {
        let ok = decode_state(&[
            s("cooling_down"),
            s("1700000000000"),
            s("2"),
            s("1"),
            None,
            None,
        ])
        .unwrap()
        .unwrap();
        assert_eq!(ok.state, KeyState::CoolingDown);
        assert_eq!(ok.until_ms, 1_700_000_000_000);
        assert!(!ok.transient);
        let transient = decode_state(&[s("quarantined"), s("5"), s("3"), s("1"), s("1"), None])
            .unwrap()
            .unwrap();
        assert!(transient.transient);
        assert_eq!(
            decode_state(&[None, None, None, None, None, None]).unwrap(),
            None
        );
        assert!(
            decode_state(&[s("sleepy"), s("0"), s("0"), s("0"), None, None])
                .unwrap_err()
                .contains("unknown state")
        );
        assert!(
            decode_state(&[s("healthy"), s("soon"), s("0"), s("0"), None, None])
                .unwrap_err()
                .contains("until")
        );
        assert!(
            decode_state(&[s("healthy"), s("0"), s("0"), s("0"), s("7"), None])
                .unwrap_err()
                .contains("transient")
        );
        assert!(decode_state(&[s("healthy")]).is_err());
        let dead = decode_state(&[s("disabled"), s("0"), s("0"), s("4"), s("0"), s("3")])
            .unwrap()
            .unwrap();
        assert!(dead.is_dead());
        assert!(
            decode_state(&[s("disabled"), s("0"), s("0"), s("4"), s("0"), s("x")])
                .unwrap_err()
                .contains("auth")
        );
    }

    #[test]
    fn parses_announcements() {
        let a = Announcement::parse(
            r#"{"k":"key-1","s":"quarantined","u":"1767225900000","f":5,"x":1,"o":"i1"}"#,
        )
        .unwrap();
        assert_eq!(a.k, "key-1");
        assert_eq!(a.state().unwrap().until_ms, 1_767_225_900_000);
        assert!(!a.state().unwrap().transient);
        let t = Announcement::parse(
            r#"{"k":"key-1","s":"quarantined","u":"9","f":5,"x":1,"t":1,"o":"i1"}"#,
        )
        .unwrap();
        assert!(t.state().unwrap().transient);
        assert!(Announcement::parse("nonsense").is_err());
        let affinity = AffinityAnnouncement::encode(0xdead_beef, "key-2", "i1");
        let heard = AffinityAnnouncement::parse(&affinity).unwrap();
        assert_eq!(
            (heard.hash(), heard.k.as_str(), heard.o.as_str()),
            (0xdead_beef, "key-2", "i1")
        );
        assert!(AffinityAnnouncement::parse(r#"{"aff":"xyz","k":"a","o":"i"}"#).is_none());
        assert!(AffinityAnnouncement::parse(r#"{"k":"a","s":"healthy"}"#).is_none());
    }
}
