//! Docker config files (`AuthConfigurations::new`: `config.json` and legacy `.dockercfg`): no
//! panic; every stored entry is found again by its own key and encodes to an `X-Registry-Auth`
//! value; an error never quotes a secret (`auth`, `password`, `identitytoken`) of the file.
//! Credential helpers are never run: lookups are skipped when the file names one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::auth::encode_auth;
use s2i_docker::{get_image_registry_auth, load_image_registry_auth, AuthConfigurations};
use serde_json::Value;

/// Texts the error messages are made of: a "secret" inside them proves nothing.
const TEMPLATES: &str = "docker config: registry : the entry is not an object \"auth\" is not a \
    string cannot decode \"auth\": illegal base64 data at input byte illegal base64 data: invalid \
    length illegal base64 data: invalid padding cannot parse username/password from [<redacted \
    bytes>] docker config: larger than 16777216 bytes the document is not a JSON object \
    \"auths\" is not an object \"email\" \"identitytoken\" \"username\" \"password\"";

/// The secrets in a document, and every object key (which an error may quote).
fn secrets(v: &Value, out: &mut Vec<String>, keys: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                keys.push(k.clone());
                let secret = ["auth", "password", "identitytoken"]
                    .iter()
                    .any(|s| k.eq_ignore_ascii_case(s));
                match v {
                    Value::String(s) if secret => out.push(s.clone()),
                    _ => secrets(v, out, keys),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| secrets(v, out, keys)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let auths = match AuthConfigurations::new(data) {
        Ok(a) => a,
        Err(e) => {
            let text = e.to_string();
            let Ok(doc) = serde_json::from_slice::<Value>(data) else {
                return;
            };
            let (mut found, mut keys) = (Vec::new(), Vec::new());
            secrets(&doc, &mut found, &mut keys);
            for s in found
                .iter()
                .filter(|s| s.len() >= 12 && !TEMPLATES.contains(s.as_str()))
            {
                let in_key = keys
                    .iter()
                    .any(|k| k.contains(s.as_str()) || format!("{k:?}").contains(s.as_str()));
                assert!(
                    in_key || !text.contains(s.as_str()),
                    "the error quotes a secret: {text}"
                );
            }
            assert!(load_image_registry_auth(data).is_none());
            return;
        }
    };
    assert!(load_image_registry_auth(data).is_some());
    for auth in auths.configs.values() {
        assert!(!auth.is_empty());
        let header = encode_auth(auth).unwrap();
        assert!(header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)));
    }
    if auths.creds_store().is_some() || !auths.cred_helpers().is_empty() {
        return;
    }
    for key in auths.configs.keys() {
        let found = auths.get_registry_auth(key).unwrap();
        assert!(
            found.is_some_and(|a| !a.is_empty()),
            "no entry for its own key {key:?}"
        );
        let _ = get_image_registry_auth(Some(&auths), &format!("{key}/app:1"));
    }
    for image in ["busybox", "quay.io/app/builder:1.0", "localhost:5000/x"] {
        let _ = get_image_registry_auth(Some(&auths), image);
    }
});
