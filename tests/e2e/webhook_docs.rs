//! The signature-verification snippets of docs/webhooks.md, run as written: each is taken
//! from between its `<!-- snippet: … -->` marker and the end of its code block, wrapped in a
//! small driver, and fed real deliveries from the server (captured by a local receiver) and
//! forgeries of them. Python runs with `python3`, Node.js with `node`; a missing interpreter
//! fails the test, like the other tests that need them (never skipped).

use crate::webhooks::{Received, Receiver, create_webhook, spawn_allowing_private};
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

const DOC: &str = include_str!("../../docs/webhooks.md");

/// Not ASCII, so the test also proves both sides turn the secret into the same bytes.
const SECRET: &str = "whsec-docs-\u{e9}t\u{e9}";

/// The code block that follows `<!-- snippet: name -->`, which must be fenced as `lang`.
fn snippet(name: &str, lang: &str) -> String {
    let marker = format!("<!-- snippet: {name} -->");
    assert_eq!(
        DOC.matches(&marker).count(),
        1,
        "docs/webhooks.md must have exactly one {marker}"
    );
    let after = &DOC[DOC.find(&marker).unwrap() + marker.len()..];
    let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
    let fence = format!("```{lang}");
    assert_eq!(
        lines.next().map(str::trim),
        Some(fence.as_str()),
        "{marker} must be followed by a {fence} block"
    );
    let mut code = String::new();
    for line in lines {
        if line.trim() == "```" {
            return code;
        }
        code.push_str(line);
        code.push('\n');
    }
    panic!("the {fence} block after {marker} is not closed")
}

/// Reads a JSON list of cases from stdin and prints the list of verdicts.
const PYTHON_DRIVER: &str = r#"
import json as _json
import sys as _sys

_real_time = time.time
_verdicts = []
for _case in _json.load(_sys.stdin):
    time.time = lambda _offset=_case["clockOffset"]: _real_time() + _offset
    _body = bytes.fromhex(_case["body"])
    if _case["check"] == "zernio":
        _verdicts.append(verify_zernio_signature(_case["secret"], _body, _case["header"]))
    else:
        _verdicts.append(verify_plugboard_signature(_case["secret"], _body, _case["header"]))
time.time = _real_time
print(_json.dumps(_verdicts))
"#;

const NODE_DRIVER: &str = r#"
{
  const realNow = Date.now;
  const cases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const verdicts = cases.map((c) => {
    Date.now = () => realNow() + c.clockOffset * 1000;
    const body = Buffer.from(c.body, "hex");
    return c.check === "zernio"
      ? verifyZernioSignature(c.secret, body, c.header)
      : verifyPlugboardSignature(c.secret, body, c.header);
  });
  Date.now = realNow;
  console.log(JSON.stringify(verdicts));
}
"#;

/// One input to a snippet and the verdict it must reach.
struct Case {
    what: String,
    /// `zernio` (X-Zernio-Signature) or `plugboard` (X-Plugboard-Signature).
    check: &'static str,
    secret: &'static str,
    body: Vec<u8>,
    header: Option<String>,
    /// Seconds added to the snippet's clock: a delivery checked later than it was sent.
    clock_offset: i64,
    accept: bool,
}

fn case(what: &str, check: &'static str, body: &[u8], header: Option<&str>, accept: bool) -> Case {
    Case {
        what: what.to_owned(),
        check,
        secret: SECRET,
        body: body.to_vec(),
        header: header.map(str::to_owned),
        clock_offset: 0,
        accept,
    }
}

/// Real test deliveries with the secret set: a plain `webhook.test` and a sample event.
async fn real_deliveries() -> Vec<Received> {
    let app = spawn_allowing_private().await;
    let receiver = Receiver::start().await;
    let hook = create_webhook(
        &app,
        json!({"name": "docs", "url": receiver.url, "secret": SECRET,
               "events": ["account.connected"]}),
    )
    .await;
    let id = hook["_id"].as_str().unwrap();
    for body in [
        json!({"webhookId": id}),
        json!({"webhookId": id, "event": "account.disconnected"}),
    ] {
        let r = app.post("/v1/webhooks/test", body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let got = receiver.wait_for(2, 10).await;
    for r in &got {
        crate::webhooks::assert_signed(r, SECRET);
    }
    got
}

/// What the snippets must accept and refuse, built from real deliveries.
fn cases(got: &[Received]) -> Vec<Case> {
    let mut cases = Vec::new();
    for r in got {
        let event = r.json()["event"].as_str().unwrap().to_owned();
        let body = r.body.as_bytes();
        cases.push(case(
            &format!("the genuine {event} delivery, by X-Zernio-Signature"),
            "zernio",
            body,
            Some(r.header("X-Zernio-Signature")),
            true,
        ));
        cases.push(case(
            &format!("the genuine {event} delivery, by X-Plugboard-Signature"),
            "plugboard",
            body,
            Some(r.header("X-Plugboard-Signature")),
            true,
        ));
    }

    let r = &got[0];
    let body = r.body.as_bytes();
    let zernio = r.header("X-Zernio-Signature");
    let stamped = r.header("X-Plugboard-Signature");
    let (t, v1) = stamped
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap();
    let t: i64 = t.parse().unwrap();
    let tampered = r.body.replace("webhook.test", "webhook.tesT").into_bytes();
    let reserialized = serde_json::to_vec_pretty(&r.json()).unwrap();
    assert_ne!(reserialized, body);

    for (check, header) in [("zernio", zernio), ("plugboard", stamped)] {
        cases.push(case(
            &format!("a tampered body ({check})"),
            check,
            &tampered,
            Some(header),
            false,
        ));
        cases.push(case(
            &format!("the same JSON re-serialized ({check})"),
            check,
            &reserialized,
            Some(header),
            false,
        ));
        cases.push(Case {
            secret: "another-secret",
            ..case(
                &format!("the wrong secret ({check})"),
                check,
                body,
                Some(header),
                false,
            )
        });
        cases.push(case(
            &format!("no signature header ({check})"),
            check,
            body,
            None,
            false,
        ));
        cases.push(case(
            &format!("an empty signature header ({check})"),
            check,
            body,
            Some(""),
            false,
        ));
    }
    cases.push(case(
        "a signature that is not hex",
        "zernio",
        body,
        Some(&"z".repeat(64)),
        false,
    ));
    for (what, offset, accept) in [
        ("the genuine delivery checked four minutes later", 240, true),
        (
            "the genuine delivery replayed ten minutes later",
            600,
            false,
        ),
        ("a timestamp ten minutes in the future", -600, false),
    ] {
        cases.push(Case {
            clock_offset: offset,
            ..case(what, "plugboard", body, Some(stamped), accept)
        });
    }
    for (what, header) in [
        (
            "a fresh t put on an old signature",
            format!("t={},v1={v1}", t + 1),
        ),
        ("t missing", format!("v1={v1}")),
        ("v1 missing", format!("t={t}")),
        ("t not a number", format!("t=soon,v1={v1}")),
        ("no fields at all", "garbage".to_owned()),
        (
            "the body's plain signature as v1",
            format!("t={t},v1={zernio}"),
        ),
    ] {
        cases.push(case(what, "plugboard", body, Some(&header), false));
    }
    cases
}

/// Runs `program` under `interpreter` with the cases on stdin; returns its verdicts.
async fn run(interpreter: &str, file: &str, program: String, cases: &[Case]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, program).unwrap();
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({"check": c.check, "secret": c.secret, "body": hex::encode(&c.body),
                   "header": c.header, "clockOffset": c.clock_offset})
        })
        .collect();
    let mut child = tokio::process::Command::new(interpreter)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {interpreter} (needed to check the snippets of docs/webhooks.md): {e}"
            )
        });
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{interpreter} failed: {}",
        crate::python_sdk::describe(&out)
    );
    let verdicts: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", crate::python_sdk::describe(&out)));
    assert_eq!(verdicts.len(), cases.len(), "one verdict per case");
    verdicts
}

fn assert_verdicts(language: &str, cases: &[Case], verdicts: &[Value]) {
    let wrong: Vec<String> = cases
        .iter()
        .zip(verdicts)
        .filter(|(c, v)| **v != Value::Bool(c.accept))
        .map(|(c, v)| {
            let expected = if c.accept { "accept" } else { "reject" };
            format!("{}: should {expected}, returned {v}", c.what)
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "the {language} snippet of docs/webhooks.md is wrong:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_python_snippet_in_the_docs_accepts_real_deliveries_and_rejects_forgeries_and_replays()
{
    let cases = cases(&real_deliveries().await);
    let program = format!("{}\n{PYTHON_DRIVER}", snippet("verify-python", "python"));
    let verdicts = run("python3", "verify.py", program, &cases).await;
    assert_verdicts("Python", &cases, &verdicts);
}

#[tokio::test]
async fn the_node_snippet_in_the_docs_accepts_real_deliveries_and_rejects_forgeries_and_replays() {
    let cases = cases(&real_deliveries().await);
    let program = format!("{}\n{NODE_DRIVER}", snippet("verify-node", "js"));
    let verdicts = run("node", "verify.js", program, &cases).await;
    assert_verdicts("Node.js", &cases, &verdicts);
}
