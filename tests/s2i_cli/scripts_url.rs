//! `--scripts-url http://...`: each script is downloaded from `URL/NAME`, redirects followed; a
//! script the server does not have is looked for in the image, as the reference looks.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use super::*;

const HTTP_ASSEMBLE: &str =
    "#!/bin/sh\necho \"downloaded assemble sees $(ls /tmp/src)\"\nmkdir -p /tmp/app && cp /tmp/src/hello.txt /tmp/app/\n";

/// Serves `/s/assemble` (a redirect to `/files/assemble`) and `/files/assemble`; 404 for
/// anything else. Answers `connections` connections, one request each, then stops; the
/// request lines it saw are sent on the returned channel.
fn script_server(connections: usize) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut socket, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let path = request.split(' ').nth(1).unwrap_or_default().to_string();
            let _ = tx.send(path.clone());
            let reply = match path.as_str() {
                "/s/assemble" => "HTTP/1.1 302 Found\r\nLocation: /files/assemble\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                "/files/assemble" => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{HTTP_ASSEMBLE}",
                    HTTP_ASSEMBLE.len()
                ),
                _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            };
            socket.write_all(reply.as_bytes()).unwrap();
        }
    });
    (format!("http://{address}/s"), rx)
}

#[test]
fn scripts_are_downloaded_from_an_http_url() {
    let (host, b, cleanup) = setup_or_return!();
    // assemble (through a redirect), then run, save-artifacts, usage and assemble-runtime.
    let (url, requests) = script_server(6);
    let app = App::new(&[("hello.txt", "hello from downloaded scripts\n")]);
    let tag = out_tag(&cleanup);
    let out = s2i(
        &host,
        &build_args(
            app.path(),
            &b.tag,
            &tag,
            &["--scripts-url", &url, "--loglevel", "2", "--run"],
        ),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("downloaded assemble sees hello.txt"), "{t}");
    assert!(t.contains(&format!("Downloaded '{url}/assemble'")), "{t}");
    assert!(
        t.contains(&format!("script \"run\" found by the script URL handler, but failed to install: failed to retrieve {url}/run, response code 404")),
        "{t}"
    );
    // The image's run, for the server has none.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello from downloaded scripts"),
        "{t}"
    );
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    assert!(config.contains("\"/usr/libexec/s2i/run\""), "{config}");
    let asked: Vec<String> = requests.try_iter().collect();
    assert_eq!(
        asked,
        [
            "/s/assemble",
            "/files/assemble",
            "/s/run",
            "/s/save-artifacts",
            "/s/usage",
            "/s/assemble-runtime"
        ]
    );

    // A server that does not answer: each script is looked for in the image, with a warning.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/s");
    let out = s2i(
        &host,
        &build_args(app.path(), &b.tag, &tag, &["--scripts-url", &url]),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!("WARNING: script \"assemble\" found by the script URL handler, but failed to install: cannot connect to {closed}")),
        "{t}"
    );
    assert!(t.contains("assembled as 1001"), "{t}");
    cleanup.image(&image_id(&image_config(&host, &tag)));

    // A URL that cannot be asked is the reference's URL handler error.
    let out = s2i(
        &host,
        &build_args(app.path(), &b.tag, &tag, &["--scripts-url", "http://:1/x"]),
    );
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("could not download any scripts from URL http://:1/x"),
        "{t}"
    );
}
