#![recursion_limit = "512"]
//! What counting a cluster's scheduled messages costs: the time `release::backlog` (the same count the control
//! plane's `source_scheduled_zero` check makes) takes with N messages of the topic waiting in a delay level and N
//! in the timer wheel, on one embedded cluster.
//!
//! ```text
//! cargo run --release --features testkit --example due_scan -- 1000 5000
//! ```
//!
//! For each N given (default 1000), sends N messages with delay level 18 (2 h) and N with a delivery time one hour
//! out, then times three counts and prints the median with the counted totals.

use std::time::{Duration, Instant};

use rocketmq_client_rust::DefaultMQProducer;
use rocketmq_migration::release::{self, BacklogKind};
use rocketmq_migration::testkit::{unique_name, EmbeddedCluster};
use rocketmq_migration::MigrationRuntime;
use rocketmq_model::common::message::message_single::Message;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![1000] } else { sizes };
    let runtime = MigrationRuntime::new()?;
    let rt = runtime.client();
    let cluster = EmbeddedCluster::start("due").await?;
    let mut producer = DefaultMQProducer::builder(rt.clone())
        .producer_group(unique_name("due_pg"))
        .name_server_addr(cluster.name_server_addr().to_owned())
        .build();
    producer.start().await?;
    println!("{:>10} {:>10} {:>12}", "SCHEDULED", "COUNTED", "MEDIAN");
    for n in sizes {
        let topic = unique_name("due");
        cluster.create_topic(&rt, &topic, 4).await?;
        for i in 0..n {
            let by_level = Message::builder()
                .topic(&topic)
                .body(format!("l{i}").into_bytes())
                .delay_level(18)
                .build()?;
            producer.send(by_level).await?;
            let by_timer = Message::builder()
                .topic(&topic)
                .body(format!("t{i}").into_bytes())
                .delay_secs(3600)
                .build()?;
            producer.send(by_timer).await?;
        }
        // The broker's level offsets appear in its runtime stats once the level's queue is served.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut times = Vec::new();
        let mut counted = 0;
        for _ in 0..3 {
            let at = Instant::now();
            let rows =
                release::backlog(&cluster.cluster_config(), rt.clone(), None, Some(&topic)).await?;
            times.push(at.elapsed());
            counted = rows
                .iter()
                .filter(|r| r.kind == BacklogKind::Scheduled)
                .map(|r| r.unconsumed)
                .sum::<u64>();
        }
        times.sort();
        println!(
            "{:>10} {:>10} {:>9.1} ms",
            2 * n,
            counted,
            times[1].as_secs_f64() * 1e3
        );
    }
    producer.shutdown().await;
    cluster.shutdown().await;
    runtime.shutdown().await;
    Ok(())
}
