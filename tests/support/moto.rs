//! moto's server mode (PyPI `moto[server]`) as the DynamoDB of the QA state tests (and of the local
//! run's quota rules, examples/local.rs): started on a free loopback port, waited for, killed on drop;
//! the state table created from template.yaml's definition, so that the two cannot drift.
//!
//! The server is `$MOTO_SERVER` (`scripts/moto` installs a pinned `moto[server]` and prints its
//! launcher; the project's test command, `scripts/test`, runs it and sets the variable), else
//! `moto_server` from `PATH`. Without either, a test fails, naming the command to run: these tests
//! never skip. The server runs with `moto_one_at_a_time/` first on its `PYTHONPATH` (see the
//! sitecustomize.py there: moto's threads make its transactions non-atomic, so it serves one request
//! at a time) and exits when the test process goes away (its standard input closes).

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use monitor_contact::qa_state::DynamoState;
use monitor_contact::sdk;
use serde_yaml_ng::Value;

/// The command that installs moto and runs the tests.
pub const TEST_COMMAND: &str = "scripts/test";

/// The line the sitecustomize prints once its patch is in place.
const ONE_AT_A_TIME: &str = "moto: one request at a time";

/// A moto server of this test, killed on drop.
pub struct Moto {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The port it listens on.
    pub port: u16,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it answers.
    pub fn start() -> Moto {
        let program = executable();
        for _ in 0..3 {
            if let Some(moto) = try_start(&program) {
                return moto;
            }
        }
        panic!("moto_server ({}) did not start on three free ports", program.display());
    }

    /// What the server wrote so far (its request log among it).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The test configuration of the SDK for this server: dummy credentials, us-east-1, the endpoint
    /// set explicitly, the function's own HTTPS client.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }

    /// A new, empty state table (as template.yaml defines it), and the store over it.
    pub async fn state_table(&self) -> StateTable {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let sdk = self.sdk_config().await;
        let table = format!("qa-state-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        create_table(&client, &table).await;
        StateTable {
            state: DynamoState::new(&sdk, &table),
            client,
            table,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A state table in moto: the store under test and a plain client to look at the items.
pub struct StateTable {
    /// The store, built as the function builds it (`DynamoState::new`).
    pub state: DynamoState,
    /// A plain client for checks.
    pub client: aws_sdk_dynamodb::Client,
    /// The table's name.
    pub table: String,
}

/// The SDK configuration of the tests for `endpoint`.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    let http = sdk::http_client(false).unwrap_or_else(|e| panic!("{e}"));
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDMOTO", "moto", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// `$MOTO_SERVER`, else `moto_server` on `PATH`; a failure naming the command to run otherwise.
pub fn executable() -> PathBuf {
    match locate() {
        Ok(path) => path,
        Err(NotFound::NotAFile(path)) => panic!(
            "MOTO_SERVER is {}, which is no file: run `{TEST_COMMAND}` (it installs moto[server] and sets MOTO_SERVER)",
            path.display()
        ),
        Err(NotFound::Nowhere) => panic!(
            "moto_server was not found (MOTO_SERVER is unset and it is not on PATH): the QA state tests need moto's \
             server mode (PyPI moto[server]). Run the tests with `{TEST_COMMAND}`, which installs the pinned \
             moto[server] and then runs cargo test"
        ),
    }
}

/// Why [`locate`] found no server.
#[derive(Debug)]
pub enum NotFound {
    /// `MOTO_SERVER` names this path, which is no file.
    NotAFile(PathBuf),
    /// `MOTO_SERVER` is unset and `moto_server` is not on `PATH`.
    Nowhere,
}

/// `$MOTO_SERVER`, else `moto_server` on `PATH` (for callers that say themselves what to do instead).
pub fn locate() -> Result<PathBuf, NotFound> {
    if let Some(path) = std::env::var_os("MOTO_SERVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(NotFound::NotAFile(path))
        };
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    found.ok_or(NotFound::Nowhere)
}

/// Starts moto on one free port: `None` when another process took the port first.
fn try_start(program: &Path) -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"));
    let log = std::env::temp_dir().join(format!("moto-{}-{port}.log", std::process::id()));
    let out = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let patch = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_one_at_a_time");
    let python_path = match std::env::var_os("PYTHONPATH") {
        Some(rest) if !rest.is_empty() => {
            std::env::join_paths([patch.into_os_string(), rest]).unwrap_or_else(|e| panic!("{e}"))
        }
        _ => patch.into_os_string(),
    };
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("PYTHONPATH", python_path)
        .env("MOTO_EXIT_WITH_STDIN", "1")
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run `{TEST_COMMAND}`", program.display()));
    let mut moto = Moto {
        child,
        log,
        endpoint: format!("http://127.0.0.1:{port}"),
        port,
    };
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = moto.child.try_wait() {
            let log = moto.log();
            if log.contains("Address already in use") {
                return None;
            }
            panic!(
                "moto_server ({}) exited ({status}) before answering:\n{log}",
                program.display()
            );
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto_server did not answer within 60 s:\n{}",
            moto.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        moto.log().contains(ONE_AT_A_TIME),
        "moto_server started without tests/support/moto_one_at_a_time/sitecustomize.py (its transactions would race):\n{}",
        moto.log()
    );
    Some(moto)
}

/// The state table's definition in template.yaml: the one AWS::DynamoDB::Table resource's key schema,
/// attribute definitions, billing mode and TTL attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// (attribute, HASH or RANGE).
    pub key_schema: Vec<(String, String)>,
    /// (attribute, S, N or B).
    pub attributes: Vec<(String, String)>,
    /// PAY_PER_REQUEST.
    pub billing_mode: String,
    /// The TTL attribute.
    pub ttl: String,
}

/// Reads the definition from template.yaml (its CloudFormation tags, `!Ref` and the like, are kept as
/// tagged values and never needed here).
pub fn table_definition() -> TableDefinition {
    let template: Value = serde_yaml_ng::from_str(include_str!("../../template.yaml"))
        .unwrap_or_else(|e| panic!("template.yaml is not YAML: {e}"));
    let resources = template["Resources"].as_mapping().expect("template.yaml has Resources");
    let tables: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::DynamoDB::Table"))
        .collect();
    assert_eq!(tables.len(), 1, "template.yaml should define one DynamoDB table");
    let properties = &tables[0]["Properties"];
    let pairs = |list: &Value, first: &str, second: &str| -> Vec<(String, String)> {
        list.as_sequence()
            .unwrap_or_else(|| panic!("the table's properties lack a list with {first}"))
            .iter()
            .map(|entry| (text(&entry[first]), text(&entry[second])))
            .collect()
    };
    assert_eq!(properties["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
    TableDefinition {
        key_schema: pairs(&properties["KeySchema"], "AttributeName", "KeyType"),
        attributes: pairs(&properties["AttributeDefinitions"], "AttributeName", "AttributeType"),
        billing_mode: text(&properties["BillingMode"]),
        ttl: text(&properties["TimeToLiveSpecification"]["AttributeName"]),
    }
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a plain string in the table's definition, found {value:?}"))
        .to_owned()
}

/// Creates `table` as template.yaml defines it (keys, billing mode, TTL).
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    let definition = table_definition();
    let keys = definition.key_schema.iter().map(|(name, kind)| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::from(kind.as_str()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let attributes = definition.attributes.iter().map(|(name, kind)| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::from(kind.as_str()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    });
    client
        .create_table()
        .table_name(table)
        .set_key_schema(Some(keys.collect()))
        .set_attribute_definitions(Some(attributes.collect()))
        .billing_mode(BillingMode::from(definition.billing_mode.as_str()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)));
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(&definition.ttl)
        .enabled(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateTimeToLive: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)));
}
