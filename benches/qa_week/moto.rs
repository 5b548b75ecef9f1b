//! moto in server mode on 127.0.0.1, with the QA state table, for the week's quota run.
//!
//! By default `moto_serial.py` beside this file (moto's application one request at a time, with a
//! rollback of transactions that touches only their items: see that file for why); with
//! `QA_WEEK_MOTO=plain`, `moto_server -p PORT` as it is. Talked to over plain HTTP with DynamoDB's
//! JSON protocol (moto checks no signature), so the benchmark needs no DynamoDB client of its own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Result;

const SERIAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/qa_week/moto_serial.py");
const INSTALL: &str = "install it with: python3 -m pip install 'moto[server]'";

/// Which moto serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// `moto_serial.py`: one request at a time, transactions rolled back item by item, requests
    /// counted.
    Serial,
    /// `moto_server` as installed.
    Plain,
}

/// A moto server; stopped when dropped.
pub(crate) struct Moto {
    child: Child,
    addr: SocketAddr,
    flavour: Flavour,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto on a free port of 127.0.0.1 (its output to `log`), and waits until it answers.
    pub(crate) async fn start(flavour: Flavour, log: &Path) -> Result<Moto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = match flavour {
            Flavour::Serial => {
                let mut command = Command::new("python3");
                command.arg(SERIAL).arg(port.to_string());
                command
            }
            Flavour::Plain => {
                let mut command = Command::new("moto_server");
                command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                command
            }
        };
        let output = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(output.try_clone()?))
            .stderr(Stdio::from(output))
            .spawn()
            .map_err(|e| format!("cannot start moto ({e}); {INSTALL}"))?;
        let mut moto = Moto {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            flavour,
        };
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                let said = std::fs::read_to_string(log).unwrap_or_default();
                return Err(format!("moto exited ({status}): {}; {INSTALL}", said.trim()).into());
            }
            if moto.call("ListTables", json!({})).await.is_ok() {
                return Ok(moto);
            }
            if Instant::now() > until {
                return Err(format!("moto did not answer within 30 s (see {})", log.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value for `AWS_ENDPOINT_URL_DYNAMODB`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates the QA state table as the design has it: `pk` (S) and `sk` (S), on demand.
    pub(crate) async fn create_table(&self, name: &str) -> Result<()> {
        self.call(
            "CreateTable",
            json!({
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
            }),
        )
        .await?;
        Ok(())
    }

    /// Items whose `pk` starts with `prefix` (a Scan counting, page by page).
    pub(crate) async fn count_items(&self, table: &str, prefix: &str) -> Result<u64> {
        let mut count = 0;
        let mut start: Option<Value> = None;
        loop {
            let mut request = json!({
                "TableName": table,
                "Select": "COUNT",
                "FilterExpression": "begins_with(pk, :prefix)",
                "ExpressionAttributeValues": {":prefix": {"S": prefix}},
            });
            if let Some(key) = start.take() {
                request["ExclusiveStartKey"] = key;
            }
            let page = self.call("Scan", request).await?;
            count += page["Count"].as_u64().unwrap_or(0);
            match page.get("LastEvaluatedKey") {
                Some(key) if !key.is_null() => start = Some(key.clone()),
                _ => return Ok(count),
            }
        }
    }

    /// The DynamoDB requests moto has answered so far, by operation (`None`: this moto does not count).
    pub(crate) async fn requests(&self) -> Result<Option<BTreeMap<String, u64>>> {
        if self.flavour != Flavour::Serial {
            return Ok(None);
        }
        let (status, body) = http(self.addr, "GET", "/_qa_week/requests", &[], "").await?;
        if status != 200 {
            return Err(format!("moto's request counts: HTTP {status}").into());
        }
        Ok(Some(serde_json::from_str(&body)?))
    }

    /// One DynamoDB call; its answer, or the error moto gave.
    pub(crate) async fn call(&self, operation: &str, request: Value) -> Result<Value> {
        let target = format!("DynamoDB_20120810.{operation}");
        let headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", target.as_str()),
            // moto reads the service and region from the credential scope; it checks no signature.
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDQAWEEK/20261123/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00",
            ),
        ];
        let (status, body) = http(self.addr, "POST", "/", &headers, &request.to_string()).await?;
        if status != 200 {
            return Err(format!("DynamoDB {operation}: HTTP {status}: {body}").into());
        }
        Ok(serde_json::from_str(&body)?)
    }
}

/// One HTTP/1.1 request on its own connection: (status, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String)> {
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await??;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response)).await??;
    parse_response(&response)
}

/// An HTTP/1.1 response read to its end: (status, body), a chunked body joined.
pub(crate) fn parse_response(response: &[u8]) -> Result<(u16, String)> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("an HTTP response without a header end")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("an HTTP response without a status")?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_owned()));
    }
    let mut joined = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).map_err(|_| "a bad chunk size")?;
        if size == 0 || after.len() < size {
            break;
        }
        joined.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    Ok((status, joined))
}
