//! API throughput: the sample API against Express + express-jwt under wrk, side by side.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::report::{Figure, Target, stat};
use crate::{Inputs, Scratch};
use anyhow::{Context, Result, bail};
use latchkey_dev_idp::{API_AUDIENCE, Settings};
use serde_json::Value;

/// A server under load, one process; killed when dropped. `start_servers` gives Latchkey's
/// sample API first, the Express peer second.
pub(crate) struct Server {
    pub(crate) url: String,
    pub(crate) _child: tokio::process::Child,
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) async fn wait_for_port(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on port {port}")
}

pub(crate) async fn start_servers(
    inputs: &Inputs,
    issuer: &str,
    dir: &Path,
) -> Result<Vec<Server>> {
    let (rust_port, node_port) = (free_port()?, free_port()?);
    let rust = tokio::process::Command::new(&inputs.api)
        .args(["--port", &rust_port.to_string(), "--issuer", issuer])
        .args(["--audience", API_AUDIENCE])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("bench.sqlite3").display()),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the sample API")?;
    let node = tokio::process::Command::new("node")
        .arg(&inputs.peer)
        .env("ISSUER", issuer)
        .env("AUDIENCE", API_AUDIENCE)
        .env("JWKS_URI", format!("{issuer}.well-known/jwks.json"))
        .env("PORT", node_port.to_string())
        .env("NODE_ENV", "production")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the Express peer (node)")?;
    wait_for_port(rust_port).await?;
    wait_for_port(node_port).await?;
    Ok(vec![
        Server {
            url: format!("http://127.0.0.1:{rust_port}/api/messages/protected"),
            _child: rust,
        },
        Server {
            url: format!("http://127.0.0.1:{node_port}/api/messages/protected"),
            _child: node,
        },
    ])
}

/// A wrk script: the given `Authorization` headers in turn; `done` prints one JSON line.
pub(crate) fn wrk_script(headers: &[String]) -> String {
    let list = headers
        .iter()
        .map(|h| format!("{h:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"local auth = {{ {list} }}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) i = 0; s5xx = 0; s2xx = 0 end
function request()
  i = i + 1
  return wrk.format("GET", nil, {{ ["Authorization"] = auth[(i % #auth) + 1] }})
end
function response(status, headers, body)
  if status >= 500 then s5xx = s5xx + 1 end
  if status >= 200 and status < 300 then s2xx = s2xx + 1 end
end
function done(summary, latency, requests)
  local s5, s2 = 0, 0
  for _, t in ipairs(threads) do s5 = s5 + t:get("s5xx"); s2 = s2 + t:get("s2xx") end
  local e = summary.errors
  io.write(string.format('WRK {{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"s5xx":%d,"s2xx":%d}}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), s5, s2))
end
"#
    )
}

/// One wrk run; its `done` summary.
pub(crate) async fn wrk(url: &str, script: &Path, connections: u32, seconds: u32) -> Result<Value> {
    let output = tokio::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .await
        .context("wrk (Debian package wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("WRK "))
        .with_context(|| format!("wrk printed no summary: {text}"))?;
    Ok(serde_json::from_str(line)?)
}

pub(crate) async fn api_throughput(inputs: &Inputs) -> Result<Vec<Figure>> {
    // The wrk scripts hold (throwaway) access tokens: the folder goes when this returns.
    let scratch = Scratch::new("latchkey-bench-api")?;
    let dir = scratch.0.clone();
    let idp = latchkey_dev_idp::DevIdp::start(Settings::default()).await?;
    let issuer = idp.issuer().to_owned();
    let servers = start_servers(inputs, &issuer, &dir).await?;
    let bearer = |t: String| format!("Bearer {t}");
    let valid: Vec<String> = ["jemma", "paul", "sebastian"]
        .iter()
        .map(|u| idp.access_token(u, API_AUDIENCE).map(bearer))
        .collect::<Result<_>>()?;
    let forged = {
        let (head, _) = valid[0].rsplit_once('.').context("a JWT")?;
        format!("{head}.AAAA")
    };
    let invalid = vec![
        forged,
        bearer(idp.access_token("jemma", "urn:another-api")?),
        "Bearer not-a-token".to_owned(),
        "Basic amVtbWE6dG9kbw==".to_owned(),
    ];
    let valid_script = dir.join("valid.lua");
    std::fs::write(&valid_script, wrk_script(&valid))?;
    let mixed_script = dir.join("mixed.lua");
    let mixed: Vec<String> = valid.iter().chain(&invalid).cloned().collect();
    std::fs::write(&mixed_script, wrk_script(&mixed))?;
    // Each peer gets a warm-up (JWKS fetched, JIT warm) before it is measured.
    for server in &servers {
        wrk(&server.url, &valid_script, 16, 2).await?;
    }

    let seconds = 8;
    // The same server without the token check: its public message, same requests otherwise.
    let public_url = servers[0]
        .url
        .replace("/api/messages/protected", "/api/messages/public");
    wrk(&public_url, &valid_script, 16, 2).await?;
    let loads = [
        servers[0].url.as_str(),
        servers[1].url.as_str(),
        public_url.as_str(),
    ];
    let mut figures = vec![];
    for connections in [64, 256] {
        // [latchkey-api protected, Express protected, latchkey-api public]
        let mut rps: [Vec<f64>; 3] = Default::default();
        let mut p50: [Vec<f64>; 3] = Default::default();
        let mut p99: [Vec<f64>; 3] = Default::default();
        let mut non2xx = 0.0;
        // Alternate the loads so drift on a noisy machine touches all alike.
        for _ in 0..3 {
            for (i, url) in loads.iter().enumerate() {
                let r = wrk(url, &valid_script, connections, seconds).await?;
                let requests = r["requests"].as_f64().unwrap_or(0.0);
                let duration = r["duration_us"].as_f64().unwrap_or(1.0) / 1e6;
                rps[i].push(requests / duration);
                p50[i].push(r["p50_us"].as_f64().unwrap_or(f64::NAN) / 1000.0);
                p99[i].push(r["p99_us"].as_f64().unwrap_or(f64::NAN) / 1000.0);
                if i == 0 {
                    non2xx += r["non2xx"].as_f64().unwrap_or(0.0)
                        + r["socket_errors"].as_f64().unwrap_or(0.0);
                }
            }
        }
        let run_by_run =
            |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(a, b)| a / b).collect() };
        let c = connections;
        let key = |name: &str| format!("{name}_{c}");
        figures.push(
            Figure::new(key("api_rps"), format!("API {c} conn: latchkey-api"), "req/s", stat(rps[0].clone()))
                .method(format!("wrk -t1 -c{c} -d{seconds}s, GET /api/messages/protected with valid RS256 tokens (3 users in turn), 3 runs alternating with the peer and the public endpoint")),
        );
        figures.push(
            Figure::new(key("peer_rps"), format!("API {c} conn: Express + express-jwt + jwks-rsa"), "req/s", stat(rps[1].clone()))
                .method("the same load on bench/peer/express-jwt.mjs (Node, one process), same tokens, same JWKS"),
        );
        figures.push(
            Figure::new(key("api_public_rps"), format!("API {c} conn: latchkey-api, public (no token check)"), "req/s", stat(rps[2].clone()))
                .method("the same load and server on GET /api/messages/public: the limit without the token check"),
        );
        figures.push(
            Figure::new(
                key("api_ratio"),
                format!("API {c} conn: throughput ratio to Express"),
                "×",
                stat(run_by_run(&rps[0], &rps[1])),
            )
            .target(Target::AtLeast(25.0))
            .method("latchkey-api req/s over Express req/s, run by run"),
        );
        figures.push(
            Figure::new(
                key("api_protected_over_public"),
                format!("API {c} conn: protected / public throughput"),
                "×",
                stat(run_by_run(&rps[0], &rps[2])),
            )
            .target(Target::AtLeast(0.8))
            .method("protected req/s over public req/s of the same server, run by run"),
        );
        figures.push(
            Figure::new(
                key("api_p50_ms"),
                format!("API {c} conn: latchkey-api p50"),
                "ms",
                stat(p50[0].clone()),
            )
            .method("wrk's latency percentile"),
        );
        figures.push(
            Figure::new(
                key("api_p99_ms"),
                format!("API {c} conn: latchkey-api p99"),
                "ms",
                stat(p99[0].clone()),
            )
            .method("wrk's latency percentile"),
        );
        figures.push(
            Figure::new(
                key("api_public_p99_ms"),
                format!("API {c} conn: public p99"),
                "ms",
                stat(p99[2].clone()),
            )
            .method("wrk's latency percentile, the public endpoint"),
        );
        figures.push({
            let f = Figure::new(
                key("api_p99_over_public"),
                format!("API {c} conn: protected p99 / public p99"),
                "×",
                stat(run_by_run(&p99[0], &p99[2])),
            )
            .method("run by run: what the token check adds to the tail");
            if c == 256 {
                f.target(Target::AtMost(1.5))
            } else {
                f
            }
        });
        figures.push(
            Figure::new(
                key("peer_p99_ms"),
                format!("API {c} conn: Express p99"),
                "ms",
                stat(p99[1].clone()),
            )
            .method("wrk's latency percentile"),
        );
        figures.push(
            Figure::new(
                key("api_valid_failures"),
                format!("API {c} conn: non-2xx or socket errors, valid tokens"),
                "responses",
                stat(vec![non2xx]),
            )
            .target(Target::AtMost(0.0))
            .method("wrk's status and socket error counts over the 3 runs"),
        );
    }
    // Mixed load: 3 valid and 4 invalid credentials in turn; nothing may be a 5xx.
    let r = wrk(&servers[0].url, &mixed_script, 64, seconds).await?;
    let s5xx = r["s5xx"].as_f64().unwrap_or(f64::NAN);
    let share = r["s2xx"].as_f64().unwrap_or(0.0) / r["requests"].as_f64().unwrap_or(1.0);
    figures.push(
        Figure::new("api_mixed_5xx", "API mixed load: 5xx answers", "responses", stat(vec![s5xx]))
            .target(Target::AtMost(0.0))
            .method(format!("wrk -c64 -d{seconds}s with 3 valid and 4 invalid credentials in turn (bad signature, wrong audience, not a JWT, Basic); {:.0}% answered 2xx, 3/7 expected", share * 100.0)),
    );
    Ok(figures)
}

/// Requests sent by `connections` concurrent callers, each taking the next of `requests`
/// (headers for one request each: a DPoP proof is good once), until they run out or
/// `limit` passes. Returns (requests per second, non-2xx answers).
async fn fire(
    url: &str,
    requests: Vec<Vec<(&'static str, String)>>,
    connections: usize,
    limit: Duration,
) -> Result<(f64, u64)> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut callers = Vec::new();
    for _ in 0..connections {
        let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
        let (done, failed, url) = (done.clone(), failed.clone(), url.to_owned());
        callers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() || started.elapsed() > limit {
                    break;
                }
                let mut request = client.get(&url);
                for (name, value) in &requests[i] {
                    request = request.header(*name, value);
                }
                match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for caller in callers {
        caller.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = done.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
    Ok((total as f64 / elapsed, failed.load(Ordering::Relaxed)))
}

/// The DPoP check (RFC 9449 §7) beside no check: a DPoP-bound token with a fresh proof per
/// request (signature, key thumbprint, htm/htu, iat, ath, replay cache) on the protected
/// endpoint, against the public endpoint under the same load generator and headers.
pub(crate) async fn dpop_throughput(inputs: &Inputs) -> Result<Vec<Figure>> {
    let scratch = Scratch::new("latchkey-bench-dpop")?;
    let idp = latchkey_dev_idp::DevIdp::start(Settings::default()).await?;
    let servers = start_servers(inputs, idp.issuer(), &scratch.0).await?;
    let protected = servers[0].url.clone();
    let public = protected.replace("/api/messages/protected", "/api/messages/public");
    let key = latchkey_dpop::ProofKey::generate();
    let now = latchkey_dpop::unix_now();
    let token = idp.sign_claims(&serde_json::json!({
        "iss": idp.issuer(), "sub": "dev-idp|jemma", "aud": [API_AUDIENCE],
        "iat": now, "exp": now + 3600, "cnf": { "jkt": key.thumbprint() },
    }))?;
    let per_run = 30_000;
    let batch = |n: usize| -> Vec<Vec<(&'static str, String)>> {
        let now = latchkey_dpop::unix_now();
        (0..n)
            .map(|_| {
                vec![
                    ("authorization", format!("DPoP {token}")),
                    (
                        "dpop",
                        key.proof("GET", &protected, now, Some(&token), None),
                    ),
                ]
            })
            .collect()
    };
    // Warm-up: the API fetches the issuer's keys once.
    fire(&protected, batch(200), 8, Duration::from_secs(5)).await?;
    let (mut dpop, mut open, mut failures) = (Vec::new(), Vec::new(), 0.0);
    for _ in 0..3 {
        let (rps, failed) = fire(&protected, batch(per_run), 64, Duration::from_secs(4)).await?;
        dpop.push(rps);
        failures += failed as f64;
        open.push(
            fire(&public, batch(per_run), 64, Duration::from_secs(4))
                .await?
                .0,
        );
    }
    let ratio: Vec<f64> = dpop.iter().zip(&open).map(|(d, o)| d / o).collect();
    let method = "64 concurrent reqwest callers, one fresh proof per request made before the run, 3 runs alternating with the public endpoint (same generator, same headers)";
    Ok(vec![
        Figure::new(
            "dpop_rps",
            "API DPoP-protected (bound token, proof per request)",
            "req/s",
            stat(dpop),
        )
        .method(method),
        Figure::new(
            "dpop_public_rps",
            "API public, same load generator",
            "req/s",
            stat(open),
        )
        .method(method),
        Figure::new(
            "dpop_over_public",
            "API DPoP-protected / public throughput",
            "×",
            stat(ratio),
        )
        .target(Target::AtLeast(0.5))
        .method("DPoP-protected req/s over public req/s, run by run"),
        Figure::new(
            "dpop_failures",
            "API DPoP-protected: non-2xx answers",
            "responses",
            stat(vec![failures]),
        )
        .target(Target::AtMost(0.0))
        .method("every proof fresh and for the request: none may be refused"),
    ])
}
