//! The simulated queue's SQS endpoint: what the function calls to give a failed record back early
//! (ChangeMessageVisibilityBatch in SQS's JSON protocol, `SQS_RETRY_DELAY_SECONDS`), honoured on the
//! simulated queue as SQS does: the record's current receipt handle makes it visible again after the
//! given seconds; a receipt handle the record no longer holds is refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::Result;
use crate::connect_double::{read_request, write_response};
use crate::simulation::Queue;

/// The operation the function calls.
const CHANGE_VISIBILITY_BATCH: &str = "AmazonSQS.ChangeMessageVisibilityBatch";

/// Serves `queue` on a loopback port; returns its endpoint (`http://127.0.0.1:PORT`).
pub(crate) async fn start(queue: Arc<Mutex<Queue>>) -> Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&queue)));
        }
    });
    Ok(endpoint)
}

/// Serves one keep-alive connection.
async fn serve(mut stream: TcpStream, queue: Arc<Mutex<Queue>>) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let (status, body) = match request.header("x-amz-target") {
            Some(CHANGE_VISIBILITY_BATCH) => (200, change_visibility_batch(&queue, &request.json())),
            _ => (
                400,
                json!({"__type": "com.amazonaws.sqs#InvalidAction", "message": "not simulated"}),
            ),
        };
        let headers = [("x-amzn-requestid", "sqs-simulated".to_owned())];
        if write_response(&mut stream, status, &headers, &body.to_string())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Changes the visibility of each entry's message; `Successful` and `Failed` as SQS answers.
fn change_visibility_batch(queue: &Mutex<Queue>, request: &Value) -> Value {
    let entries = request["Entries"].as_array().cloned().unwrap_or_default();
    let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    for entry in entries {
        let id = entry["Id"].clone();
        let receipt = entry["ReceiptHandle"].as_str().unwrap_or_default();
        let seconds = entry["VisibilityTimeout"].as_u64().unwrap_or(0);
        if queue.change_visibility(receipt, Duration::from_secs(seconds), now) {
            successful.push(json!({"Id": id}));
        } else {
            failed.push(json!({"Id": id, "Code": "ReceiptHandleIsInvalid", "SenderFault": true}));
        }
    }
    json!({"Successful": successful, "Failed": failed})
}
