//! Peak memory (VmHWM) of `save` and `restore_latest` of a large state on
//! a directory store, each measured by a child process reading its own
//! `/proc/self/status` (Linux only).
//!
//! ```text
//! cargo run --release -p checkpoint-core --example peak_rss -- [MiB] [zstd-level] [how] [store]
//! ```
//!
//! `how` is `whole` (the default), `incremental` (an incremental save,
//! its chunks stored as they are cut) or `incremental-capture` (an
//! incremental `capture` then `commit`, which holds the encoded checkpoint
//! in memory), or `group` / `group-incremental` (a group part of the
//! state, whole or incremental, saved with `Group::save_part` and
//! committed, then restored with `restore_latest`). `store` is `dir` (the
//! default) or `s3`: an S3-compatible
//! store at `CHECKPOINT_S3_ENDPOINT` (bucket and keys from
//! `CHECKPOINT_S3_BUCKET`, `CHECKPOINT_S3_ACCESS_KEY_ID`,
//! `CHECKPOINT_S3_SECRET_ACCESS_KEY`; `eval "$(scripts/seaweedfs.sh env)"`
//! sets them), which needs `--features object-store`.
//!
//! The state is 16 fields of `MiB / 16` each (records of about 1 KiB), so
//! a checkpoint has 16 frames: a restore holds one beside the state. Figures are in `docs/PERFORMANCE.md`.

use std::process::Command;
use std::time::Instant;

use checkpoint_core::{
    Checkpoint, Checkpointer, Compression, FieldReader, FieldSchema, FieldWriter, Result, Schema,
    Shape,
};

const SHARDS: usize = 16;
const NAMES: [&str; SHARDS] = [
    "s00", "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11", "s12",
    "s13", "s14", "s15",
];
const FIELDS: [FieldSchema; SHARDS] = {
    let mut fields = [FieldSchema::serialized("", ""); SHARDS];
    let mut i = 0;
    while i < SHARDS {
        fields[i] = FieldSchema::serialized(NAMES[i], "Vec<(u64, String)>");
        i += 1;
    }
    fields
};

struct Large {
    shards: Vec<Vec<(u64, String)>>,
}

impl Checkpoint for Large {
    type Context = ();
    const SCHEMA: Schema = Schema::new("Large", Shape::Struct(&FIELDS));

    fn write_fields(&self, out: &mut FieldWriter<'_>) -> Result<()> {
        for (name, shard) in NAMES.iter().zip(&self.shards) {
            out.field(name, shard)?;
        }
        Ok(())
    }

    fn read_fields(input: &mut FieldReader<'_>, _: &()) -> Result<Self> {
        let shards = NAMES
            .iter()
            .map(|name| input.field(name))
            .collect::<Result<_>>()?;
        Ok(Large { shards })
    }
}

const WORDS: [&str; 32] = [
    "order",
    "shipped",
    "pending",
    "refund",
    "customer",
    "warehouse",
    "north",
    "south",
    "express",
    "standard",
    "invoice",
    "paid",
    "declined",
    "retry",
    "carrier",
    "parcel",
    "priority",
    "backlog",
    "audit",
    "ledger",
    "credit",
    "debit",
    "transfer",
    "hold",
    "release",
    "batch",
    "queue",
    "error",
    "timeout",
    "ok",
    "region",
    "account",
];

/// About `mib` MiB of records of about 1 KiB: words drawn at random with
/// numbers between them, which zstd compresses a few times, as logs do.
fn large(mib: usize) -> Large {
    let per_shard = (mib << 20) / SHARDS / 1024;
    let mut n = 0u64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let shards = (0..SHARDS)
        .map(|_| {
            (0..per_shard)
                .map(|_| {
                    n += 1;
                    let mut text = String::with_capacity(1024);
                    while text.len() < 1000 {
                        let r = next();
                        text.push_str(WORDS[(r % 32) as usize]);
                        text.push(' ');
                        if r % 3 == 0 {
                            text.push_str(&(r >> 40).to_string());
                            text.push(' ');
                        }
                    }
                    (n, text)
                })
                .collect()
        })
        .collect();
    Large { shards }
}

/// The peak resident set of this process, in MiB.
fn vm_hwm_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// A checkpointer of [`open_store`].
fn open(dir: &str, store: &str) -> Checkpointer {
    Checkpointer::new(open_store(dir, store)).expect("open")
}

/// The store the children share: the directory `dir`, or a prefix named
/// after it in an S3 bucket.
fn open_store(dir: &str, store: &str) -> std::sync::Arc<dyn checkpoint_core::Store> {
    if store == "s3" {
        #[cfg(feature = "object-store")]
        {
            let var = |name: &str, default: &str| {
                std::env::var(name).unwrap_or_else(|_| default.to_owned())
            };
            let prefix = std::path::Path::new(dir)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let s3 = checkpoint_core::store::ObjectStore::s3(
                &std::env::var("CHECKPOINT_S3_ENDPOINT").expect("CHECKPOINT_S3_ENDPOINT"),
                &var("CHECKPOINT_S3_BUCKET", "checkpoint-test"),
                &prefix,
                &var("CHECKPOINT_S3_ACCESS_KEY_ID", "checkpoint"),
                &var("CHECKPOINT_S3_SECRET_ACCESS_KEY", "checkpoint"),
            )
            .expect("S3 store");
            return std::sync::Arc::new(s3);
        }
        #[cfg(not(feature = "object-store"))]
        panic!("the s3 store needs --features object-store");
    }
    std::fs::create_dir_all(dir).expect("create the directory");
    std::sync::Arc::new(checkpoint_core::DirStore::open(dir).expect("open"))
}

fn child(mode: &str, dir: &str, mib: usize, level: i32, how: &str, store: &str) {
    let compression = if level == 0 {
        Compression::none()
    } else {
        Compression::zstd(level)
    };
    let shared = open_store(dir, store);
    let ckpt = Checkpointer::new(std::sync::Arc::clone(&shared))
        .expect("open")
        .keep_last(1)
        .compression(compression)
        .incremental(how != "whole");
    let group = how.starts_with("group").then(|| {
        checkpoint_core::group::Group::from_shared(std::sync::Arc::clone(&shared), "g")
            .expect("group")
            .compression(compression)
            .incremental(how == "group-incremental")
    });
    let started = Instant::now();
    let size = match mode {
        "state" => {
            let state = large(mib);
            std::hint::black_box(&state);
            0
        }
        "save" => {
            let state = large(mib);
            let started = Instant::now();
            if let Some(group) = &group {
                let part = group.save_part(1, "a", &state).expect("save part");
                group
                    .commit(1, &["a"], std::slice::from_ref(&part))
                    .expect("commit");
                println!("secs {:.2}", started.elapsed().as_secs_f64());
                println!("size {}", part.len);
                println!("hwm {}", vm_hwm_mib());
                return;
            }
            let meta = if how == "incremental-capture" {
                let snapshot = ckpt.capture(&state).expect("capture");
                ckpt.commit(snapshot).expect("commit")
            } else {
                ckpt.save(&state).expect("save")
            };
            println!("secs {:.2}", started.elapsed().as_secs_f64());
            meta.size
        }
        _ if group.is_some() => {
            let group = group.as_ref().expect("a group");
            let restored = group
                .restore_latest::<Large>("a")
                .expect("restore")
                .expect("committed");
            std::hint::black_box(&restored.state);
            0
        }
        _ => {
            let restored = ckpt
                .restore_latest::<Large>()
                .expect("restore")
                .expect("saved");
            std::hint::black_box(&restored.state);
            restored.meta.size
        }
    };
    if mode == "restore" {
        println!("secs {:.2}", started.elapsed().as_secs_f64());
    }
    println!("size {size}");
    println!("hwm {}", vm_hwm_mib());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        let mib = args[4].parse().expect("MiB");
        let level = args[5].parse().expect("level");
        return child(&args[2], &args[3], mib, level, &args[6], &args[7]);
    }
    let mib: usize = args.get(1).map_or(64, |a| a.parse().expect("MiB"));
    let level: i32 = args.get(2).map_or(0, |a| a.parse().expect("zstd level"));
    let how = args.get(3).map_or("whole", String::as_str);
    let store = args.get(4).map_or("dir", String::as_str);
    assert!(["dir", "s3"].contains(&store), "store: dir or s3");
    assert!(
        [
            "whole",
            "incremental",
            "incremental-capture",
            "group",
            "group-incremental"
        ]
        .contains(&how),
        "how: whole, incremental, incremental-capture, group or group-incremental"
    );
    let dir = std::env::temp_dir().join(format!("checkpoint-peak-rss-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    println!("state {mib} MiB, zstd level {level} (0: none), {how}, {store}");
    for mode in ["state", "save", "restore"] {
        let out = Command::new(&args[0])
            .args(["child", mode, &dir.display().to_string()])
            .args([mib.to_string(), level.to_string(), how.to_owned()])
            .arg(store)
            .output()
            .expect("run child");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map_or("-".into(), |v| v.trim().to_owned())
        };
        println!(
            "{mode:<8} peak RSS {:>6} MiB  checkpoint {:>11} bytes  {:>6} s",
            field("hwm "),
            field("size "),
            field("secs ")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    if store == "s3" {
        let ckpt = open(&dir.display().to_string(), store);
        let s3 = ckpt.store();
        for key in s3.list("").unwrap_or_default() {
            let _ = s3.delete(&key);
        }
    }
}
