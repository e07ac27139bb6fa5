//! A real webhook receiver on loopback: an HTTP/1.1 server on its own thread that records every
//! request and answers with the status a test chooses for the n-th request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query.
    pub path: String,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// The address the connection came from (a proxy's outgoing address, when through one).
    pub from: std::net::IpAddr,
}

/// A receiver listening on 127.0.0.1.
pub struct Receiver {
    /// `http://127.0.0.1:port`
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let from = stream.peer_addr().ok()?.ip();
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received { path, headers, body, from })
}

impl Receiver {
    /// Starts a receiver answering request number n (0-based) with `status(n)`.
    pub fn start(status: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Receiver {
        Receiver::start_slow(Duration::ZERO, status)
    }

    /// Like [`Receiver::start`], taking `delay` before each answer (each request on its own
    /// thread, so slow answers overlap like a real server's).
    pub fn start_slow(delay: Duration, status: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Receiver {
        Receiver::start_scripted(move |n| (delay, status(n)))
    }

    /// Answers request number n after `script(n).0` with status `script(n).1`.
    pub fn start_scripted(script: impl Fn(usize) -> (Duration, u16) + Send + Sync + 'static) -> Receiver {
        Receiver::start_answering(move |n, stream| {
            let (delay, code) = script(n);
            std::thread::sleep(delay);
            let body = format!("{{\"received\":{n}}}");
            let reply = format!(
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        })
    }

    /// Answers 200 with a body that never ends (it claims 4 GiB), written in 1 MiB chunks until
    /// `limit` bytes are out or the client hangs up; `written` counts the body bytes that went
    /// out, over every request.
    pub fn start_streaming(limit: u64, written: Arc<std::sync::atomic::AtomicU64>) -> Receiver {
        Receiver::start_answering(move |_, stream| {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4294967296\r\n\r\n";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b'x'; 1 << 20];
            let mut sent = 0;
            while sent < limit {
                match stream.write(&chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        sent += n as u64;
                        written.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        })
    }

    /// Answers with a head promising `length` bytes of body, sends `sent` of them, then stalls
    /// for a minute: a body whose reading times out.
    pub fn start_stalling(length: usize, sent: usize) -> Receiver {
        Receiver::start_answering(move |_, stream| {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\n\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&vec![b'x'; sent]);
            std::thread::sleep(Duration::from_secs(60));
        })
    }

    /// Records each request, then lets `answer(n, stream)` reply to request number n.
    fn start_answering(answer: impl Fn(usize, &mut std::net::TcpStream) + Send + Sync + 'static) -> Receiver {
        let answer = Arc::new(answer);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (sink, answer) = (sink.clone(), answer.clone());
                std::thread::spawn(move || {
                    // One request per connection: answer, then close.
                    let Some(request) = read_request(&mut stream) else { return };
                    let n = {
                        let mut all = sink.lock().expect("received");
                        all.push(request);
                        all.len() - 1
                    };
                    answer(n, &mut stream);
                });
            }
        });
        Receiver { url, received }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("received").clone()
    }

    /// Waits until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.received();
            if all.len() >= n || Instant::now() >= deadline {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
