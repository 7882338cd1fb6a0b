//! Bad input gets a clear, typed error naming the field and the value.

use rocketmq_migration::{
    ClusterConfig, ConfigErrorKind, ErrorKind, MigratingProducer, MigratingPushConsumer, Phase,
    PhaseHandle, TopicState,
};

use crate::support;

#[test]
fn builders_without_a_cluster_name_the_missing_field() {
    let rt = support::client_without_clusters();
    let err = MigratingProducer::builder(rt.clone())
        .producer_group("pg")
        .target(ClusterConfig::new("127.0.0.1:9876"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let cfg = err.config_error().expect("config error");
    assert_eq!(
        (cfg.kind(), cfg.field()),
        (ConfigErrorKind::Missing, "source")
    );
    assert!(err.to_string().contains("source"), "{err}");

    let err = MigratingPushConsumer::builder(rt.clone())
        .consumer_group("cg")
        .source(ClusterConfig::new("127.0.0.1:9876"))
        .build()
        .unwrap_err();
    assert_eq!(err.config_error().unwrap().field(), "target");

    let err = MigratingProducer::builder(rt)
        .producer_group("pg")
        .source(ClusterConfig::new("127.0.0.1"))
        .target(ClusterConfig::new("127.0.0.1:9876"))
        .build()
        .unwrap_err();
    let cfg = err.config_error().unwrap();
    assert_eq!(
        (cfg.field(), cfg.value()),
        ("source.name_server_addr", "127.0.0.1")
    );
}

#[test]
fn ratio_outside_the_unit_interval_is_refused_and_changes_nothing() {
    let phases = PhaseHandle::new();
    phases.set_phase("t", Phase::DualReadWrite).unwrap();
    for bad in [-0.5, 1.5, f64::NAN] {
        let err = phases.set_write_ratio("t", bad).unwrap_err();
        assert_eq!(
            (err.kind(), err.field()),
            (ConfigErrorKind::InvalidRatio, "write_ratio")
        );
        let bad_state = TopicState {
            phase: Phase::DualReadWrite,
            write_ratio: bad,
            version: 100,
            ..Default::default()
        };
        assert_eq!(
            phases.apply("t", bad_state).unwrap_err().kind(),
            ConfigErrorKind::InvalidRatio
        );
    }
    assert_eq!(phases.snapshot().topic("t").write_ratio, 0.5);
    assert_eq!(phases.snapshot().topic("t").version, 1);
}

#[test]
fn unknown_phase_names_are_refused() {
    for bad in ["dual-read", "DualRead", "done", ""] {
        let err = bad.parse::<Phase>().unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::InvalidPhase);
        assert_eq!(err.value(), bad);
    }
}
