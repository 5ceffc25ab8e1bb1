//! A struct changes after checkpoints were written; each evolution attribute
//! restores a checkpoint written by the earlier version. The earlier version
//! lives here as its own type under the same `#[checkpoint(name = ...)]`.

use checkpoint::{Checkpoint, Checkpointer, Error, MemStore};

/// A store holding one checkpoint of `old`.
fn written_by<T: Checkpoint>(old: &T) -> Checkpointer {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(old).unwrap();
    ckpt
}

mod v1 {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor")]
    pub struct Processor {
        pub processed_messages: u64,
        pub log: Vec<String>,
        pub retries: u32,
        pub scratch: Vec<u8>,
    }

    pub fn processor() -> Processor {
        Processor {
            processed_messages: 3,
            log: vec!["a".into(), "bb".into()],
            retries: 7,
            scratch: vec![1, 2, 3],
        }
    }
}

#[derive(Debug, PartialEq, Checkpoint)]
#[checkpoint(name = "MessageProcessor", removed = "scratch")]
struct Processor {
    processed_messages: u64,
    log: Vec<String>,
    /// Added after v1: the defaults see the stored fields.
    #[checkpoint(default = log.iter().map(|m| m.len() as u64).sum())]
    total_bytes: u64,
    /// Renamed from `retries`, and widened from `u32`.
    #[checkpoint(alias = "retries", was = u32, convert = widen)]
    attempts: u64,
    #[derived(from = log.len() + total_bytes as usize)]
    weight: usize,
}

fn widen(old: u32) -> u64 {
    u64::from(old) * 1000
}

#[test]
fn default_alias_removed_and_convert_restore_the_earlier_version() {
    let ckpt = written_by(&v1::processor());
    let restored = ckpt.restore_latest::<Processor>().unwrap().unwrap();
    assert_eq!(
        restored.state,
        Processor {
            processed_messages: 3,
            log: vec!["a".into(), "bb".into()],
            total_bytes: 3,
            attempts: 7000,
            weight: 5,
        }
    );
}

#[test]
fn the_current_version_round_trips_without_defaults_or_conversion() {
    let current = Processor {
        processed_messages: 1,
        log: vec!["xyz".into()],
        total_bytes: 99,
        attempts: 5,
        weight: 100,
    };
    let ckpt = written_by(&current);
    let restored = ckpt.restore_latest::<Processor>().unwrap().unwrap();
    assert_eq!(
        restored.state.total_bytes, 99,
        "a stored value beats the default"
    );
    assert_eq!(
        restored.state.attempts, 5,
        "a new checkpoint stores the new type"
    );
    assert_eq!(restored.state.weight, 1 + 99);
}

mod dropped {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor")]
    pub struct Processor {
        pub processed_messages: u64,
        pub log: Vec<String>,
        pub retries: u32,
    }
}

#[test]
fn an_unknown_field_without_removed_is_still_an_error() {
    let ckpt = written_by(&v1::processor());
    let err = ckpt.restore_latest::<dropped::Processor>().unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedField { field, .. } if field == "scratch"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.ends_with("add `#[checkpoint(removed = \"scratch\")]` to `MessageProcessor`"),
        "{message}"
    );
    assert!(
        message.contains("add `#[checkpoint(alias = \"scratch\")]` to that field"),
        "{message}"
    );
}

mod added {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor", removed = "scratch")]
    pub struct Processor {
        pub processed_messages: u64,
        pub log: Vec<String>,
        pub retries: u32,
        pub last_message_time: u64,
    }
}

#[test]
fn a_missing_field_suggests_default_on_that_field() {
    let ckpt = written_by(&v1::processor());
    let err = ckpt.restore_latest::<added::Processor>().unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, Error::MissingField { field, .. } if field == "last_message_time"),
        "{err:?}"
    );
    assert!(
        message.ends_with(
            "add `#[checkpoint(default = ...)]` to `last_message_time` to restore checkpoints \
             written before it existed"
        ),
        "{message}"
    );
}

mod retyped {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor", removed = "scratch")]
    pub struct Processor {
        pub processed_messages: u64,
        pub log: Vec<String>,
        pub retries: u16,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor", removed = "scratch")]
    pub struct Widened {
        pub processed_messages: u64,
        pub log: Vec<String>,
        pub retries: u64,
    }
}

#[test]
fn a_narrowed_type_suggests_was_and_convert() {
    let ckpt = written_by(&v1::processor());
    let err = ckpt.restore_latest::<retyped::Processor>().unwrap_err();
    assert!(
        matches!(&err, Error::FieldTypeChanged { field, expected: "u16", found, .. }
            if field == "retries" && found == "u32"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.ends_with("add `#[checkpoint(was = u32, convert = ...)]` to `retries`"),
        "{message}"
    );
}

/// Every `u32` is a `u64`: the widened field restores the value saved.
#[test]
fn a_widened_integer_restores() {
    let ckpt = written_by(&v1::processor());
    let restored = ckpt.restore_latest::<retyped::Widened>().unwrap().unwrap();
    assert_eq!(restored.state.retries, 7);
}

mod renamed_type {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    pub struct Processor {
        pub processed_messages: u64,
    }

    #[derive(Debug, PartialEq, Checkpoint)]
    #[checkpoint(name = "Processor")]
    pub struct Worker {
        pub processed_messages: u64,
    }

    #[derive(Debug, PartialEq, Checkpoint)]
    pub struct Unnamed {
        pub processed_messages: u64,
    }
}

#[test]
fn a_renamed_type_keeps_its_identity_with_name() {
    let ckpt = written_by(&renamed_type::Processor {
        processed_messages: 4,
    });
    let restored = ckpt
        .restore_latest::<renamed_type::Worker>()
        .unwrap()
        .unwrap();
    assert_eq!(restored.state.processed_messages, 4);
    assert_eq!(restored.meta.type_name, "Processor");

    let err = ckpt.restore_latest::<renamed_type::Unnamed>().unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.ends_with("add `#[checkpoint(name = \"Processor\")]` to `Unnamed`"),
        "{message}"
    );
}

mod ledger {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    #[checkpoint(check = Self::consistent)]
    pub struct Ledger {
        pub last_sequence_number: u64,
        pub transactions: Vec<u64>,
    }

    impl Ledger {
        fn consistent(&self) -> Result<(), String> {
            match self.transactions.last() {
                Some(&newest) if newest > self.last_sequence_number => Err(format!(
                    "last_sequence_number {} is below the newest transaction {newest}",
                    self.last_sequence_number
                )),
                _ => Ok(()),
            }
        }
    }
}

#[test]
fn check_runs_after_every_restore_and_names_the_checkpoint() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(&ledger::Ledger {
        last_sequence_number: 42,
        transactions: vec![41, 42],
    })
    .unwrap();
    assert!(ckpt.restore::<ledger::Ledger>(1).is_ok());
    ckpt.save(&ledger::Ledger {
        last_sequence_number: 41,
        transactions: vec![41, 42],
    })
    .unwrap();
    let err = ckpt.restore::<ledger::Ledger>(2).unwrap_err();
    assert!(
        matches!(&err, Error::CheckFailed { seq: 2, type_name, .. } if type_name == "Ledger"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("last_sequence_number 41 is below the newest transaction 42"),
        "{err}"
    );
    // a failed check is not damage: restore_latest reports it
    assert!(matches!(
        ckpt.restore_latest::<ledger::Ledger>(),
        Err(Error::CheckFailed { seq: 2, .. })
    ));
}

mod contextual {
    use std::sync::mpsc::Sender;

    use checkpoint::Checkpoint;

    pub struct Clock {
        pub now: u64,
        pub events: Sender<&'static str>,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Session")]
    pub struct SessionV1 {
        pub user: String,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(context = Clock)]
    pub struct Session {
        pub user: String,
        #[checkpoint(default = ctx.now)]
        pub started: u64,
        #[derived(from = { ctx.events.send("restored").unwrap(); ctx.events.clone() })]
        pub events: Sender<&'static str>,
        #[derived(from = ctx.now.saturating_sub(started))]
        pub age: u64,
    }
}

#[test]
fn context_reaches_default_and_derived_expressions() {
    let (events, received) = std::sync::mpsc::channel();
    let clock = contextual::Clock { now: 100, events };
    let ckpt = written_by(&contextual::SessionV1 { user: "ada".into() });
    let restored = ckpt
        .restore_latest_with::<contextual::Session>(&clock)
        .unwrap()
        .unwrap();
    assert_eq!(restored.state.user, "ada");
    assert_eq!(restored.state.started, 100);
    assert_eq!(restored.state.age, 0);
    assert_eq!(received.try_recv(), Ok("restored"));
    restored
        .state
        .events
        .send("sender from the context")
        .unwrap();
    assert_eq!(received.try_recv(), Ok("sender from the context"));

    ckpt.save(&contextual::Session {
        started: 60,
        ..restored.state
    })
    .unwrap();
    let again = ckpt.restore_with::<contextual::Session>(2, &clock).unwrap();
    assert_eq!((again.state.started, again.state.age), (60, 40));
}

mod variants {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Job")]
    pub enum JobV1 {
        Idle,
        Busy { id: u32 },
    }

    #[derive(Debug, PartialEq, Checkpoint)]
    pub enum Job {
        Idle,
        Busy {
            #[checkpoint(alias = "id", was = u32, convert = u64::from)]
            job: u64,
            #[checkpoint(default = job + 1)]
            next: u64,
        },
    }
}

#[test]
fn enum_variant_fields_evolve_too() {
    let ckpt = written_by(&variants::JobV1::Busy { id: 9 });
    let restored = ckpt.restore_latest::<variants::Job>().unwrap().unwrap();
    assert_eq!(restored.state, variants::Job::Busy { job: 9, next: 10 });
}

mod shaped {
    use checkpoint::Checkpoint;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    pub struct Celsius(pub f64);

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Sensor")]
    pub struct SensorV1 {
        pub reading: Celsius,
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    pub struct Reading {
        pub kelvin: f64,
    }

    /// The old type is written under another name here: its shape, not its
    /// name, says the checkpoint holds it.
    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    pub struct OldCelsius(pub f64);

    #[derive(Debug, Checkpoint)]
    pub struct Sensor {
        #[checkpoint(was = OldCelsius, convert = to_reading)]
        pub reading: Reading,
    }

    fn to_reading(old: OldCelsius) -> Reading {
        Reading {
            kelvin: old.0 + 273.15,
        }
    }
}

#[test]
fn was_matches_the_stored_shape_when_the_type_name_differs() {
    let ckpt = written_by(&shaped::SensorV1 {
        reading: shaped::Celsius(20.0),
    });
    let restored = ckpt.restore_latest::<shaped::Sensor>().unwrap().unwrap();
    assert!((restored.state.reading.kelvin - 293.15).abs() < 1e-9);
}
