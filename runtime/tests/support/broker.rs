//! A real Kafka-protocol broker for the Kafka tests: Tansu (an Apache Kafka-compatible broker
//! in Rust) with its in-memory storage, started by the test on a free loopback port, and a
//! reader that reads topics back through partitions assigned to it (no consumer group).
//!
//! `scripts/setup` installs the broker into `.venv/bin/tansu`; the harness also finds `tansu`
//! on `PATH` or at `$TRACKPLAN_TANSU`. When there is none the test fails, saying so.
//!
//! The memory storage forgets everything when the broker stops, so a test that restarts the
//! broker reads what the old one held before stopping it ([`Broker::read_all`]) and adds what
//! the new one holds afterwards.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};

/// A broker process the test owns; stopped when dropped.
pub struct Broker {
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
    topics: Vec<(String, i32)>,
}

/// One record as read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Record {
    /// The value as text (panics on a tombstone).
    pub fn text(&self) -> String {
        let v = self
            .value
            .as_ref()
            .unwrap_or_else(|| panic!("a tombstone at {}", self.offset));
        String::from_utf8(v.clone()).unwrap_or_else(|e| panic!("value is not UTF-8: {e}"))
    }

    /// The value as JSON (panics on a tombstone).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text()).unwrap_or_else(|e| panic!("value is not JSON: {e}"))
    }

    /// The record's insert id, from its value.
    pub fn insert_id(&self) -> String {
        self.json()["insert_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no insert_id in {}", self.text()))
            .to_owned()
    }
}

/// The broker binary: `$TRACKPLAN_TANSU`, `.venv/bin/tansu` of the workspace, or `tansu` on
/// `PATH`.
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TRACKPLAN_TANSU") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/tansu");
    if venv.is_file() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("tansu");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the Kafka tests need the Tansu broker (`tansu`), which is not installed: run \
         scripts/setup (it installs it into .venv/bin/tansu), or point TRACKPLAN_TANSU at a \
         tansu binary"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

impl Broker {
    /// Starts a broker on a free loopback port and waits until it accepts connections.
    pub fn start() -> Broker {
        let mut b = Broker {
            bin: binary(),
            port: free_port(),
            child: None,
            topics: Vec::new(),
        };
        b.start_again();
        b
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates `topic` with `partitions` partitions; re-created on each restart (the memory
    /// storage forgets it).
    pub fn create_topic(&mut self, topic: &str, partitions: i32) {
        self.topics.push((topic.to_owned(), partitions));
        self.create(topic, partitions);
    }

    fn create(&self, topic: &str, partitions: i32) {
        // A broker that just started may accept connections before it serves admin requests
        // (seen on a loaded machine): try again for a while before failing.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let out = Command::new(&self.bin)
                .args(["topic", "create", topic, "--partitions"])
                .arg(partitions.to_string())
                .args(["--broker", &format!("tcp://{}", self.address())])
                .output()
                .unwrap_or_else(|e| panic!("running `tansu topic create`: {e}"));
            // An attempt the broker carried out but answered late (on a loaded machine) makes
            // every later one report the topic as existing (Tansu logs that on stdout).
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if out.status.success() || said.contains("already exists") {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tansu topic create {topic} failed for 30 s: {said}"
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    /// Kills the broker (SIGKILL) and waits for it: connections to its port are refused
    /// until [`Broker::start_again`].
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the broker (SIGSTOP): it holds its connections and answers nothing, as a
    /// broker does in the moment it dies.
    pub fn freeze(&self) {
        if let Some(c) = &self.child {
            let status = Command::new("kill")
                .args(["-STOP", &c.id().to_string()])
                .status()
                .unwrap_or_else(|e| panic!("kill -STOP: {e}"));
            assert!(status.success(), "kill -STOP failed");
        }
    }

    /// Starts the broker (again) on the same port, with its topics, and waits until it
    /// accepts connections.
    pub fn start_again(&mut self) {
        self.kill();
        let url = format!("tcp://{}", self.address());
        let child = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e} (run scripts/setup)", self.bin.display()));
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(self.address()).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the broker did not listen on {} within 30 s",
                self.address()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for (topic, partitions) in self.topics.clone() {
            self.create(&topic, partitions);
        }
    }

    /// Every record of `topic` the broker holds now, partition by partition in offset order,
    /// read through assigned partitions from the start until no record came for 1.5 s.
    ///
    /// Not up to the partitions' end offsets: Tansu 0.6 reports as a partition's end the
    /// first offset of its last record batch, short of the records in that batch.
    pub fn read_all(&self, topic: &str) -> Vec<Record> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.address())
            .set("group.id", "trackplan-test-reader")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap_or_else(|e| panic!("test consumer: {e}"));
        let timeout = Duration::from_secs(30);
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
        let mut assignment = TopicPartitionList::new();
        for t in metadata.topics().iter().filter(|t| t.name() == topic) {
            assert!(
                !t.partitions().is_empty(),
                "topic {topic} has no partitions"
            );
            for p in t.partitions() {
                assignment
                    .add_partition_offset(topic, p.id(), Offset::Beginning)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        consumer
            .assign(&assignment)
            .unwrap_or_else(|e| panic!("assign: {e}"));
        let mut records = Vec::new();
        let mut idle = Instant::now();
        while idle.elapsed() < Duration::from_millis(1500) {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    idle = Instant::now();
                    let headers = m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default();
                    records.push(Record {
                        partition: m.partition(),
                        offset: m.offset(),
                        timestamp: m.timestamp().to_millis(),
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        headers,
                    });
                }
                Some(Err(e)) => panic!("reading {topic}: {e}"),
                None => {}
            }
        }
        records.sort_by_key(|r| (r.partition, r.offset));
        records
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A frozen broker must be thawed to die promptly on some kernels; SIGKILL works
            // either way, this just keeps no stopped process around.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.kill();
    }
}
