//! Response and request heads (`transport::wire`): no panic; a prefix of the bytes never
//! disagrees with the whole (split-point equivalence of the push parser); a parsed response
//! head written back with `write_response_head` parses to the same head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::transport::wire::{
    parse_request_head, parse_response_head, write_response_head, Framing, Status,
};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let split = usize::from(split) * data.len() / 256;
    let whole = parse_response_head(data);
    let part = parse_response_head(&data[..split]);
    match (&whole, &part) {
        (Ok(Status::Complete((n, head))), _) => {
            assert!(*n <= data.len() && head.wire_len() == *n);
            let _ = (head.reason(), head.header("content-length"));
            let _ = head.has_token("connection", "close");
            match &part {
                Ok(Status::Complete(p)) => assert_eq!(p, &(*n, head.clone()), "split {split}"),
                Ok(Status::Partial) => assert!(split < *n, "split {split}"),
                Err(e) => panic!("a prefix of {split} bytes failed: {e}"),
            }
            round_trip(head);
        }
        (_, Ok(Status::Complete(_))) => panic!("a prefix of {split} bytes is complete: {whole:?}"),
        (Ok(Status::Partial), Err(e)) => panic!("a prefix of {split} bytes failed: {e}"),
        _ => {}
    }

    let whole = parse_request_head(data);
    let part = parse_request_head(&data[..split]);
    if let Ok(Status::Complete((n, head))) = &whole {
        assert!(*n <= data.len() && head.wire_len() == *n);
        let _ = (head.method(), head.target(), head.headers().count());
        if let Ok(Status::Complete(p)) = &part {
            assert_eq!(p, &(*n, head.clone()));
        }
    }
    if let Ok(Status::Complete(_)) = part {
        assert!(matches!(whole, Ok(Status::Complete(_))));
    }
});

fn round_trip(head: &s2i_docker::transport::wire::Head) {
    // `HTTP/1.1 050 x` parses as status 50, which `write_response_head` refuses: a status line
    // has three digits (regressions/response_head/status-050-written-as-50).
    let writable = (100..=999).contains(&head.status);
    let headers: Vec<(&str, String)> = head.headers().map(|(n, v)| (n, v.to_string())).collect();
    let mut out = Vec::new();
    if write_response_head(
        &mut out,
        head.status,
        head.reason(),
        &headers,
        Framing::None,
    )
    .is_err()
    {
        return;
    }
    assert!(writable, "status {} was written", head.status);
    match parse_response_head(&out) {
        Ok(Status::Complete((n, again))) => {
            assert_eq!(n, out.len());
            assert_eq!((again.status, again.reason()), (head.status, head.reason()));
            assert!(
                again.headers().eq(head.headers()),
                "{head:?} became {again:?}"
            );
        }
        other => panic!(
            "{:?} written as {:?} parses as {other:?}",
            head,
            out.escape_ascii().to_string()
        ),
    }
}
