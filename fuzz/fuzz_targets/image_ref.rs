//! Image references (`image_ref`): no panic; a parsed reference prints (fully qualified and in
//! its familiar form) to strings that parse back to it; the loose helpers never panic and
//! `get_image_name` is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::image_ref::{
    container_name, get_image_name, parse_normalized_named, parse_repository_tag,
};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(r) = parse_normalized_named(&s) {
        // Two familiar forms do not read back, as in Go's `FamiliarString`: a Docker Hub path
        // whose first component looks like a registry (`docker.io/a.b/c` shows as `a.b/c`), and
        // an official image named by 64 hex digits (refused as an image ID). Only the fully
        // qualified form must read back then (regressions/image_ref/familiar-name-*).
        let first = r.path.split('/').next().unwrap_or_default();
        let domain_like = first.contains(['.', ':']) || first == "localhost";
        let familiar = r.familiar_name();
        let hex_id = familiar.len() == 64 && familiar.bytes().all(|b| b.is_ascii_hexdigit());
        let familiar_ok = r.domain != "docker.io" || !(domain_like || hex_id);
        let forms = [
            Some(r.to_string()),
            familiar_ok.then(|| r.familiar_string()),
        ];
        for shown in forms.into_iter().flatten() {
            let again = parse_normalized_named(&shown);
            assert_eq!(
                again.as_ref().ok(),
                Some(&r),
                "{s:?} shown as {shown:?}: {again:?}"
            );
        }
        assert!(r.to_string().starts_with(&r.name()));
        assert!(!r.tag_or_digest().is_empty());
    }
    let (base, tag, id) = parse_repository_tag(&s);
    assert!(base.len() + tag.len() + id.len() <= s.len());
    let named = get_image_name(&s);
    assert_eq!(get_image_name(&named), named, "{s:?}");
    let c = container_name(&s);
    assert!(c.starts_with("s2i_") && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
});
