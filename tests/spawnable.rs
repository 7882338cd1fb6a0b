//! The shims' futures can be spawned: an application holds them in its own `async` code behind references and
//! hands that to `tokio::spawn`, which needs `Send`. A future that is `Send` only for some lifetimes ("implementation
//! of `Send` is not general enough") compiles inside this crate and fails only there, so each kind of send is
//! checked here the way an application writes it.
//!
//! Needs no broker: the futures are made and dropped, not run.

mod unstarted;

use std::future::Future;

use rocketmq_migration::MigratingProducer;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use unstarted::{clusters, msg, runtime};

/// `fut` could be handed to `tokio::spawn`.
fn spawnable<F: Future + Send>(fut: F) {
    drop(fut);
}

#[tokio::test]
async fn every_kind_of_send_can_be_spawned_from_application_code() {
    let (source, target) = clusters();
    let producer = MigratingProducer::builder(runtime().client())
        .producer_group("spawn_pg")
        .source(source)
        .target(target)
        .build()
        .expect("producer");
    let p = &producer;
    let mq = MessageQueue::default;
    let first = |qs: &[MessageQueue], _: &Message, _: &u8| qs.first().cloned();
    spawnable(async move { p.send(msg()).await.ok() });
    spawnable(async move { p.send_with_timeout(msg(), 3000).await.ok() });
    spawnable(async move { p.send_with_callback(msg(), |_, _| {}).await.ok() });
    spawnable(async move {
        p.send_with_callback_timeout(msg(), |_, _| {}, 3000)
            .await
            .ok()
    });
    spawnable(async move { p.send_to_queue(msg(), mq()).await.ok() });
    spawnable(async move {
        p.send_to_queue_with_callback(msg(), mq(), |_, _| {})
            .await
            .ok()
    });
    spawnable(async move { p.send_oneway(msg()).await.ok() });
    spawnable(async move { p.send_batch(vec![msg()]).await.ok() });
    spawnable(async move { p.send_batch_with_timeout(vec![msg()], 3000).await.ok() });
    spawnable(async move { p.send_batch_to_queue(vec![msg()], mq()).await.ok() });
    spawnable(async move {
        p.send_batch_with_callback(vec![msg()], |_, _| {})
            .await
            .ok()
    });
    spawnable(async move {
        p.send_batch_to_queue_with_callback_timeout(vec![msg()], mq(), |_, _| {}, 3000)
            .await
            .ok()
    });
    spawnable(async move { p.send_with_selector(msg(), first, 7u8).await.ok() });
    spawnable(async move {
        p.send_with_selector_timeout(msg(), first, 7u8, 3000)
            .await
            .ok()
    });
    spawnable(async move {
        p.send_with_selector_callback(msg(), first, 7u8, None)
            .await
            .ok()
    });
    spawnable(async move { p.request(msg(), 3000).await.ok() });
}
